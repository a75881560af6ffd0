/* syr2k (PolyBench/C 4.2, linear-algebra/blas): symmetric rank-2k update of the lower
   triangle of C; the loop nest of polyk.kernels.polybench.syr2k. */
#include <math.h>

void kernel_syr2k(int N, int M,
                  double alpha, double beta,
                  double C[N][N],
                  double A[N][M],
                  double B[N][M])
{
  int i, j, k;

#pragma scop
  for (i = 0; i < N; i++) {
    for (j = 0; j < i + 1; j++)
      C[i][j] *= beta;
    for (k = 0; k < M; k++)
      for (j = 0; j < i + 1; j++)
        C[i][j] += A[j][k] * alpha * B[i][k] + B[j][k] * alpha * A[i][k];
  }
#pragma endscop
}
