/* mvt (PolyBench/C 4.2, linear-algebra/kernels): x1 += A*y_1 and x2 += A^T*y_2;
   the loop nest of polyk.kernels.polybench.mvt. */
#include <math.h>

void kernel_mvt(int N,
                double x1[N],
                double x2[N],
                double y_1[N],
                double y_2[N],
                double A[N][N])
{
  int i, j;

#pragma scop
  for (i = 0; i < N; i++)
    for (j = 0; j < N; j++)
      x1[i] = x1[i] + A[i][j] * y_1[j];
  for (i = 0; i < N; i++)
    for (j = 0; j < N; j++)
      x2[i] = x2[i] + A[j][i] * y_2[j];
#pragma endscop
}
