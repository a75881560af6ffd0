/* cholesky (PolyBench/C 4.2, linear-algebra/solvers): in-place Cholesky factorisation
   A = L L^T; the loop nest of polyk.kernels.polybench.cholesky. */
#include <math.h>

void kernel_cholesky(int N,
                     double A[N][N])
{
  int i, j, k;

#pragma scop
  for (i = 0; i < N; i++) {
    for (j = 0; j < i; j++) {
      for (k = 0; k < j; k++)
        A[i][j] -= A[i][k] * A[j][k];
      A[i][j] /= A[j][j];
    }
    for (k = 0; k < i; k++)
      A[i][i] -= A[i][k] * A[i][k];
    A[i][i] = sqrt(A[i][i]);
  }
#pragma endscop
}
