/* trmm (PolyBench/C 4.2, linear-algebra/blas): B := alpha*A^T*B with A unit lower
   triangular; the loop nest of polyk.kernels.polybench.trmm. */
#include <math.h>

void kernel_trmm(int M, int N,
                 double alpha,
                 double A[M][M],
                 double B[M][N])
{
  int i, j, k;

#pragma scop
  for (i = 0; i < M; i++)
    for (j = 0; j < N; j++) {
      for (k = i + 1; k < M; k++)
        B[i][j] += A[k][i] * B[k][j];
      B[i][j] = alpha * B[i][j];
    }
#pragma endscop
}
