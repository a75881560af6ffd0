"""trmm (PolyBench/C 4.2, linear-algebra/blas): B := alpha*A^T*B with A unit lower
triangular (BLAS SIDE = 'L', UPLO = 'L', TRANSA = 'T', DIAG = 'U')."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def trmm(alpha: f64, A: f64[M, M], B: f64[M, N]):
    for i in range(M):
        for j in range(N):
            for k in range(i + 1, M):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def reference(alpha, A, B):
    # unit diagonal: only the strict lower triangle of A is read
    B[...] = alpha * (B + np.tril(A, -1).T @ B)


@trmm.inputs
def gen(sizes, rng):
    # PolyBench's alpha; random B and strict lower triangle of A in [0, 1), 1 on A's diagonal
    # as in PolyBench; the strict upper triangle is never read and holds -999
    m, n = sizes["M"], sizes["N"]
    A = rng.uniform(0.0, 1.0, (m, m))
    A[np.triu_indices(m, 1)] = -999.0
    np.fill_diagonal(A, 1.0)
    return {"alpha": 1.5, "A": A, "B": rng.uniform(0.0, 1.0, (m, n))}


SPEC = register(KernelSpec(
    name="trmm", op=trmm, reference=reference, suite="polybench",
    description="B := alpha*A^T*B, A unit lower triangular (triangular matrix multiply)",
    sizes={
        "python": {"M": 6, "N": 5},
        "test": {"M": 30, "N": 24},
        "test_edge": {"M": 3, "N": 1},
        "mini": {"M": 20, "N": 30},
        "small": {"M": 60, "N": 80},
        "medium": {"M": 200, "N": 240},
        "large": {"M": 1000, "N": 1200},
        "bench": {"M": 1000, "N": 1200},
    },
))
