/* trisolv (PolyBench/C 4.2, linear-algebra/solvers): forward substitution L x = b; the loop
   nest of polyk.kernels.polybench.trisolv. */
#include <math.h>

void kernel_trisolv(int N,
                    double L[N][N],
                    double x[N],
                    double b[N])
{
  int i, j;

#pragma scop
  for (i = 0; i < N; i++) {
    x[i] = b[i];
    for (j = 0; j < i; j++)
      x[i] -= L[i][j] * x[j];
    x[i] = x[i] / L[i][i];
  }
#pragma endscop
}
