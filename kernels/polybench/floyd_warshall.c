/* floyd-warshall (PolyBench/C 4.2, medley): all-pairs shortest paths; the loop nest of
   polyk.kernels.polybench.floyd_warshall. */
#include <math.h>

void kernel_floyd_warshall(int N,
                           int path[N][N])
{
  int i, j, k;

#pragma scop
  for (k = 0; k < N; k++)
    for (i = 0; i < N; i++)
      for (j = 0; j < N; j++)
        path[i][j] = path[i][j] < path[i][k] + path[k][j] ?
                     path[i][j] : path[i][k] + path[k][j];
#pragma endscop
}
