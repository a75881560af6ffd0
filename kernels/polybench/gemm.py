"""gemm (PolyBench/C 4.2, linear-algebra/blas): C := alpha*A*B + beta*C."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

NI, NJ, NK = polyk.params("NI NJ NK")


@polyk.op
def gemm(alpha: f64, beta: f64, C: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ]):
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


def reference(alpha, beta, C, A, B):
    C *= beta
    C += alpha * (A @ B)


@gemm.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random matrices in [0, 1)
    ni, nj, nk = sizes["NI"], sizes["NJ"], sizes["NK"]
    return {"alpha": 1.5, "beta": 1.2, "C": rng.uniform(0.0, 1.0, (ni, nj)),
            "A": rng.uniform(0.0, 1.0, (ni, nk)), "B": rng.uniform(0.0, 1.0, (nk, nj))}


SPEC = register(KernelSpec(
    name="gemm", op=gemm, reference=reference, suite="polybench",
    description="C := alpha*A*B + beta*C (general matrix multiply)",
    sizes={
        "python": {"NI": 5, "NJ": 7, "NK": 6},
        "test": {"NI": 30, "NJ": 37, "NK": 24},
        "test_edge": {"NI": 1, "NJ": 3, "NK": 1},
        "mini": {"NI": 20, "NJ": 25, "NK": 30},
        "small": {"NI": 60, "NJ": 70, "NK": 80},
        "medium": {"NI": 200, "NJ": 220, "NK": 240},
        "large": {"NI": 1000, "NJ": 1100, "NK": 1200},
        "bench": {"NI": 1000, "NJ": 1100, "NK": 1200},
    },
))
