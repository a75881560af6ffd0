/* bicg (PolyBench/C 4.2, linear-algebra/kernels): s := A^T*r and q := A*p;
   the loop nest of polyk.kernels.polybench.bicg. */
#include <math.h>

void kernel_bicg(int N, int M,
                 double A[N][M],
                 double s[M],
                 double q[N],
                 double p[M],
                 double r[N])
{
  int i, j;

#pragma scop
  for (i = 0; i < M; i++)
    s[i] = 0.0;
  for (i = 0; i < N; i++) {
    q[i] = 0.0;
    for (j = 0; j < M; j++) {
      s[j] = s[j] + r[i] * A[i][j];
      q[i] = q[i] + A[i][j] * p[j];
    }
  }
#pragma endscop
}
