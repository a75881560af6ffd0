"""syrk (PolyBench/C 4.2, linear-algebra/blas): symmetric rank-k update of the lower
triangle, C := alpha*A*A^T + beta*C."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, M = polyk.params("N M")


@polyk.op
def syrk(alpha: f64, beta: f64, C: f64[N, N], A: f64[N, M]):
    for i in range(N):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(M):
            for j in range(i + 1):
                C[i, j] += alpha * A[i, k] * A[j, k]


def reference(alpha, beta, C, A):
    low = np.tril_indices(C.shape[0])
    C[low] = (beta * C + alpha * (A @ A.T))[low]


@syrk.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random matrices in [0, 1) (the strict upper triangle of C
    # is neither read nor written)
    n, m = sizes["N"], sizes["M"]
    return {"alpha": 1.5, "beta": 1.2, "C": rng.uniform(0.0, 1.0, (n, n)),
            "A": rng.uniform(0.0, 1.0, (n, m))}


SPEC = register(KernelSpec(
    name="syrk", op=syrk, reference=reference, suite="polybench",
    description="C := alpha*A*A^T + beta*C on the lower triangle (symmetric rank-k update)",
    sizes={
        "python": {"N": 6, "M": 4},
        "test": {"N": 34, "M": 26},
        "test_edge": {"N": 1, "M": 3},
        "mini": {"N": 30, "M": 20},
        "small": {"N": 80, "M": 60},
        "medium": {"N": 240, "M": 200},
        "large": {"N": 1200, "M": 1000},
        "bench": {"N": 1200, "M": 1000},
    },
))
