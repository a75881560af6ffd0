"""symm (PolyBench/C 4.2, linear-algebra/blas): C := alpha*A*B + beta*C with A symmetric,
stored in its lower triangle (BLAS SIDE = 'L', UPLO = 'L')."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def symm(alpha: f64, beta: f64, C: f64[M, N], A: f64[M, M], B: f64[M, N]):
    for i in range(M):
        for j in range(N):
            temp2 = 0.0
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


def reference(alpha, beta, C, A, B):
    sym = np.tril(A) + np.tril(A, -1).T      # only the lower triangle of A is read
    C[...] = beta * C + alpha * (sym @ B)


@symm.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random C, B and lower triangle of A in [0, 1); the strict
    # upper triangle of A is never read and holds -999 as in PolyBench
    m, n = sizes["M"], sizes["N"]
    A = rng.uniform(0.0, 1.0, (m, m))
    A[np.triu_indices(m, 1)] = -999.0
    return {"alpha": 1.5, "beta": 1.2, "C": rng.uniform(0.0, 1.0, (m, n)), "A": A,
            "B": rng.uniform(0.0, 1.0, (m, n))}


SPEC = register(KernelSpec(
    name="symm", op=symm, reference=reference, suite="polybench",
    description="C := alpha*A*B + beta*C, A symmetric (lower triangle stored), from the left",
    sizes={
        "python": {"M": 5, "N": 7},
        "test": {"M": 28, "N": 34},
        "test_edge": {"M": 2, "N": 1},
        "mini": {"M": 20, "N": 30},
        "small": {"M": 60, "N": 80},
        "medium": {"M": 200, "N": 240},
        "large": {"M": 1000, "N": 1200},
        "bench": {"M": 1000, "N": 1200},
    },
))
