/* jacobi-1d (PolyBench/C 4.2, stencils): 1-D Jacobi; the loop nest of
   polyk.kernels.polybench.jacobi_1d. */
#include <math.h>

void kernel_jacobi_1d(int N, int TSTEPS,
                      double A[N],
                      double B[N])
{
  int t, i;

#pragma scop
  for (t = 0; t < TSTEPS; t++) {
    for (i = 1; i < N - 1; i++)
      B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1]);
    for (i = 1; i < N - 1; i++)
      A[i] = 0.33333 * (B[i - 1] + B[i] + B[i + 1]);
  }
#pragma endscop
}
