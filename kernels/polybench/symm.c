/* symm (PolyBench/C 4.2, linear-algebra/blas): C := alpha*A*B + beta*C with A symmetric,
   stored in its lower triangle; the loop nest of polyk.kernels.polybench.symm. */
#include <math.h>

void kernel_symm(int M, int N,
                 double alpha, double beta,
                 double C[M][N],
                 double A[M][M],
                 double B[M][N])
{
  int i, j, k;
  double temp2;

#pragma scop
  for (i = 0; i < M; i++)
    for (j = 0; j < N; j++) {
      temp2 = 0.0;
      for (k = 0; k < i; k++) {
        C[k][j] += alpha * B[i][j] * A[i][k];
        temp2 += B[k][j] * A[i][k];
      }
      C[i][j] = beta * C[i][j] + alpha * B[i][j] * A[i][i] + alpha * temp2;
    }
#pragma endscop
}
