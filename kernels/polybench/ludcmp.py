"""ludcmp (PolyBench/C 4.2, linear-algebra/solvers): solve A x = b by an in-place LU
decomposition without pivoting, then forward (L y = b) and back (U x = y) substitution."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def ludcmp(A: f64[N, N], b: f64[N], x: f64[N], y: f64[N]):
    for i in range(N):
        for j in range(i):
            w = A[i, j]
            for k in range(j):
                w -= A[i, k] * A[k, j]
            A[i, j] = w / A[j, j]
        for j in range(i, N):
            w = A[i, j]
            for k in range(i):
                w -= A[i, k] * A[k, j]
            A[i, j] = w
    for i in range(N):
        w = b[i]
        for j in range(i):
            w -= A[i, j] * y[j]
        y[i] = w
    for i in range(N - 1, -1, -1):
        w = y[i]
        for j in range(i + 1, N):
            w -= A[i, j] * x[j]
        x[i] = w / A[i, i]


def reference(A, b, x, y):
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    for i in range(n):
        y[i] = b[i] - A[i, :i] @ y[:i]
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]


@ludcmp.inputs
def gen(sizes, rng):
    # a strictly diagonally dominant A (no pivoting needed); b as in PolyBench,
    # b[i] = (i + 1) / N / 2 + 4; x and y start at 0
    n = sizes["N"]
    A = rng.uniform(-1.0, 1.0, (n, n)) + (n + 1.0) * np.eye(n)
    b = (np.arange(n) + 1.0) / n / 2.0 + 4.0
    return {"A": A, "b": b, "x": np.zeros(n), "y": np.zeros(n)}


SPEC = register(KernelSpec(
    name="ludcmp", op=ludcmp, reference=reference, suite="polybench",
    description="solve A x = b: in-place LU without pivoting, forward then back substitution",
    sizes={
        "python": {"N": 6},
        "test": {"N": 38},
        "test_edge": {"N": 1},
        "mini": {"N": 40},
        "small": {"N": 120},
        "medium": {"N": 400},
        "large": {"N": 2000},
        "bench": {"N": 2000},
    },
))
