/* atax (PolyBench/C 4.2, linear-algebra/kernels): y := A^T*(A*x);
   the loop nest of polyk.kernels.polybench.atax. */
#include <math.h>

void kernel_atax(int M, int N,
                 double A[M][N],
                 double x[N],
                 double y[N],
                 double tmp[M])
{
  int i, j;

#pragma scop
  for (i = 0; i < N; i++)
    y[i] = 0.0;
  for (i = 0; i < M; i++) {
    tmp[i] = 0.0;
    for (j = 0; j < N; j++)
      tmp[i] = tmp[i] + A[i][j] * x[j];
    for (j = 0; j < N; j++)
      y[j] = y[j] + A[i][j] * tmp[i];
  }
#pragma endscop
}
