/* nussinov (PolyBench/C 4.2, medley): Nussinov RNA folding; the loop nest of
   polyk.kernels.polybench.nussinov. PolyBench's max_score and match macros are written
   out as conditional expressions; bases are int (char in PolyBench). */
#include <math.h>

void kernel_nussinov(int N,
                     int seq[N],
                     int table[N][N])
{
  int i, j, k;

#pragma scop
  for (i = N - 1; i >= 0; i--) {
    for (j = i + 1; j < N; j++) {
      if (j - 1 >= 0)
        table[i][j] = (table[i][j] >= table[i][j - 1]) ? table[i][j] : table[i][j - 1];
      if (i + 1 < N)
        table[i][j] = (table[i][j] >= table[i + 1][j]) ? table[i][j] : table[i + 1][j];
      if (j - 1 >= 0 && i + 1 < N) {
        if (i < j - 1)
          table[i][j] = (table[i][j] >= table[i + 1][j - 1] + (seq[i] + seq[j] == 3 ? 1 : 0))
                        ? table[i][j]
                        : table[i + 1][j - 1] + (seq[i] + seq[j] == 3 ? 1 : 0);
        else
          table[i][j] = (table[i][j] >= table[i + 1][j - 1]) ? table[i][j] : table[i + 1][j - 1];
      }
      for (k = i + 1; k < j; k++)
        table[i][j] = (table[i][j] >= table[i][k] + table[k + 1][j])
                      ? table[i][j] : table[i][k] + table[k + 1][j];
    }
  }
#pragma endscop
}
