/* durbin (PolyBench/C 4.2, linear-algebra/solvers): Levinson-Durbin recursion; the loop nest
   of polyk.kernels.polybench.durbin. z, a local array in PolyBench, is an argument here. */
#include <math.h>

void kernel_durbin(int N,
                   double r[N],
                   double y[N],
                   double z[N])
{
  int i, k;
  double alpha, beta, sum;

#pragma scop
  y[0] = -r[0];
  beta = 1.0;
  alpha = -r[0];
  for (k = 1; k < N; k++) {
    beta = (1 - alpha * alpha) * beta;
    sum = 0.0;
    for (i = 0; i < k; i++)
      sum += r[k - i - 1] * y[i];
    alpha = -(r[k] + sum) / beta;
    for (i = 0; i < k; i++)
      z[i] = y[i] + alpha * y[k - i - 1];
    for (i = 0; i < k; i++)
      y[i] = z[i];
    y[k] = alpha;
  }
#pragma endscop
}
