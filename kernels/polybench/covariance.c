/* covariance (PolyBench/C 4.2, datamining): the covariance matrix of N observations of M
   variables; the loop nest of polyk.kernels.polybench.covariance. */
#include <math.h>

void kernel_covariance(int N, int M,
                       double float_n,
                       double data[N][M],
                       double cov[M][M],
                       double mean[M])
{
  int i, j, k;

#pragma scop
  for (j = 0; j < M; j++) {
    mean[j] = 0.0;
    for (i = 0; i < N; i++)
      mean[j] += data[i][j];
    mean[j] /= float_n;
  }
  for (i = 0; i < N; i++)
    for (j = 0; j < M; j++)
      data[i][j] -= mean[j];
  for (i = 0; i < M; i++)
    for (j = i; j < M; j++) {
      cov[i][j] = 0.0;
      for (k = 0; k < N; k++)
        cov[i][j] += data[k][i] * data[k][j];
      cov[i][j] /= float_n - 1.0;
      cov[j][i] = cov[i][j];
    }
#pragma endscop
}
