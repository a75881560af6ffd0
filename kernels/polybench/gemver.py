"""gemver (PolyBench/C 4.2, linear-algebra/blas): a rank-2 update of A followed by two
matrix-vector products."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def gemver(alpha: f64, beta: f64, A: f64[N, N], u1: f64[N], v1: f64[N], u2: f64[N],
           v2: f64[N], w: f64[N], x: f64[N], y: f64[N], z: f64[N]):
    for i in range(N):
        for j in range(N):
            A[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    for i in range(N):
        for j in range(N):
            x[i] = x[i] + beta * A[j, i] * y[j]
    for i in range(N):
        x[i] = x[i] + z[i]
    for i in range(N):
        for j in range(N):
            w[i] = w[i] + alpha * A[i, j] * x[j]


def reference(alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x += beta * (A.T @ y)
    x += z
    w += alpha * (A @ x)


@gemver.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random vectors and matrix in [0, 1) (PolyBench starts from
    # w = x = 0, random values there test the accumulation too)
    n = sizes["N"]
    out = {"alpha": 1.5, "beta": 1.2, "A": rng.uniform(0.0, 1.0, (n, n))}
    for v in ("u1", "v1", "u2", "v2", "w", "x", "y", "z"):
        out[v] = rng.uniform(0.0, 1.0, n)
    return out


SPEC = register(KernelSpec(
    name="gemver", op=gemver, reference=reference, suite="polybench",
    description="A += u1 v1^T + u2 v2^T; x += beta A^T y + z; w += alpha A x",
    sizes={
        "python": {"N": 6},
        "test": {"N": 37},
        "test_edge": {"N": 1},
        "mini": {"N": 40},
        "small": {"N": 120},
        "medium": {"N": 400},
        "large": {"N": 2000},
        "bench": {"N": 2000},
    },
))
