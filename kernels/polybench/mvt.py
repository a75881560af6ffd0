"""mvt (PolyBench/C 4.2, linear-algebra/kernels): matrix-vector products in both
orientations, x1 += A*y_1 and x2 += A^T*y_2."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def mvt(x1: f64[N], x2: f64[N], y_1: f64[N], y_2: f64[N], A: f64[N, N]):
    for i in range(N):
        for j in range(N):
            x1[i] = x1[i] + A[i, j] * y_1[j]
    for i in range(N):
        for j in range(N):
            x2[i] = x2[i] + A[j, i] * y_2[j]


def reference(x1, x2, y_1, y_2, A):
    x1 += A @ y_1
    x2 += A.T @ y_2


@mvt.inputs
def gen(sizes, rng):
    # random vectors and matrix in [0, 1)
    n = sizes["N"]
    out = {v: rng.uniform(0.0, 1.0, n) for v in ("x1", "x2", "y_1", "y_2")}
    out["A"] = rng.uniform(0.0, 1.0, (n, n))
    return out


SPEC = register(KernelSpec(
    name="mvt", op=mvt, reference=reference, suite="polybench",
    description="x1 += A y_1 and x2 += A^T y_2 (matrix-vector products, both orientations)",
    sizes={
        "python": {"N": 7},
        "test": {"N": 37},
        "test_edge": {"N": 1},
        "mini": {"N": 40},
        "small": {"N": 120},
        "medium": {"N": 400},
        "large": {"N": 2000},
        "bench": {"N": 2000},
    },
))
