"""nussinov (PolyBench/C 4.2, medley): Nussinov's dynamic program for RNA secondary
structure: table[i][j] is the largest number of base pairs of seq[i..j]."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import i32

from .._spec import KernelSpec, register

N = polyk.params("N")


# PolyBench's macros, written out: max_score(s1, s2) = (s1 >= s2) ? s1 : s2 and
# match(b1, b2) = (b1 + b2 == 3) ? 1 : 0. Bases (char in PolyBench) are i32 here.
@polyk.op
def nussinov(seq: i32[N], table: i32[N, N]):
    for i in range(N - 1, -1, -1):
        for j in range(i + 1, N):
            if j - 1 >= 0:
                table[i, j] = (table[i, j] if table[i, j] >= table[i, j - 1]
                               else table[i, j - 1])
            if i + 1 < N:
                table[i, j] = (table[i, j] if table[i, j] >= table[i + 1, j]
                               else table[i + 1, j])
            if j - 1 >= 0 and i + 1 < N:
                if i < j - 1:
                    table[i, j] = (table[i, j]
                                   if table[i, j] >= table[i + 1, j - 1]
                                   + (1 if seq[i] + seq[j] == 3 else 0)
                                   else table[i + 1, j - 1]
                                   + (1 if seq[i] + seq[j] == 3 else 0))
                else:
                    table[i, j] = (table[i, j] if table[i, j] >= table[i + 1, j - 1]
                                   else table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = (table[i, j] if table[i, j] >= table[i, k] + table[k + 1, j]
                               else table[i, k] + table[k + 1, j])


def reference(seq, table):
    # max is exact and order-free on integers: table[i][j] depends on entries of shorter
    # spans only, so each diagonal d = j - i is computed at once
    n = seq.shape[0]
    for d in range(1, n):
        i = np.arange(n - d)
        j = i + d
        best = np.maximum(table[i, j], table[i, j - 1])
        best = np.maximum(best, table[i + 1, j])
        pair = table[i + 1, j - 1]
        if d > 1:
            pair = pair + (seq[i] + seq[j] == 3).astype(table.dtype)
        best = np.maximum(best, pair)
        if d > 1:
            k = i[:, None] + np.arange(1, d)[None, :]          # i < k < j
            best = np.maximum(best, (table[i[:, None], k] + table[k + 1, j[:, None]]).max(axis=1))
        table[i, j] = best


@nussinov.inputs
def gen(sizes, rng):
    # bases 0..3 (random; PolyBench uses (i + 1) % 4). PolyBench starts the table at 0; here
    # the diagonal and the lower triangle, which the recursion reads (table[i+1][j-1] with
    # i = j - 1) but never writes, hold scores 1..3, so every branch of the max matters even
    # at N = 2. The upper triangle, the scores computed, starts at 0.
    n = sizes["N"]
    table = np.tril(rng.integers(1, 4, (n, n)))
    return {"seq": rng.integers(0, 4, n).astype(np.int32), "table": table.astype(np.int32)}


SPEC = register(KernelSpec(
    name="nussinov", op=nussinov, reference=reference, suite="polybench",
    description="Nussinov RNA folding: maximum base pairs of each subsequence (int32 DP table)",
    sizes={
        "python": {"N": 8},
        "test": {"N": 38},
        "test_edge": {"N": 2},   # N = 1 executes no statement
        "mini": {"N": 60},
        "small": {"N": 180},
        "medium": {"N": 500},
        "large": {"N": 2500},
        "bench": {"N": 2500},
    },
))
