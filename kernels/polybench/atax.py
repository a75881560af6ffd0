"""atax (PolyBench/C 4.2, linear-algebra/kernels): y := A^T*(A*x)."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def atax(A: f64[M, N], x: f64[N], y: f64[N], tmp: f64[M]):
    for i in range(N):
        y[i] = 0.0
    for i in range(M):
        tmp[i] = 0.0
        for j in range(N):
            tmp[i] = tmp[i] + A[i, j] * x[j]
        for j in range(N):
            y[j] = y[j] + A[i, j] * tmp[i]


def reference(A, x, y, tmp):
    tmp[...] = A @ x
    y[...] = A.T @ tmp


@atax.inputs
def gen(sizes, rng):
    # random A and x in [0, 1); y and tmp are overwritten (random too)
    m, n = sizes["M"], sizes["N"]
    return {"A": rng.uniform(0.0, 1.0, (m, n)), "x": rng.uniform(0.0, 1.0, n),
            "y": rng.uniform(0.0, 1.0, n), "tmp": rng.uniform(0.0, 1.0, m)}


SPEC = register(KernelSpec(
    name="atax", op=atax, reference=reference, suite="polybench",
    description="y := A^T (A x), through tmp := A x",
    sizes={
        "python": {"M": 6, "N": 8},
        "test": {"M": 30, "N": 36},
        "test_edge": {"M": 1, "N": 5},
        "mini": {"M": 38, "N": 42},
        "small": {"M": 116, "N": 124},
        "medium": {"M": 390, "N": 410},
        "large": {"M": 1900, "N": 2100},
        "bench": {"M": 1900, "N": 2100},
    },
))
