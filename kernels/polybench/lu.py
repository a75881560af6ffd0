"""lu (PolyBench/C 4.2, linear-algebra/solvers): in-place LU decomposition without pivoting,
A = L U with L unit lower triangular (stored below the diagonal) and U upper triangular."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def lu(A: f64[N, N]):
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j in range(i, N):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]


def reference(A):
    # right-looking elimination: after step k, row k of U and column k of L are final
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])


def diagonally_dominant(n, rng):
    """Random entries in [-1, 1) with n + 1 added to the diagonal: strictly diagonally
    dominant, so elimination without pivoting is stable."""
    return rng.uniform(-1.0, 1.0, (n, n)) + (n + 1.0) * np.eye(n)


@lu.inputs
def gen(sizes, rng):
    return {"A": diagonally_dominant(sizes["N"], rng)}


SPEC = register(KernelSpec(
    name="lu", op=lu, reference=reference, suite="polybench",
    description="in-place LU decomposition without pivoting: unit L below the diagonal, U above",
    sizes={
        "python": {"N": 6},
        "test": {"N": 38},
        "test_edge": {"N": 2},   # N = 1 executes no statement
        "mini": {"N": 40},
        "small": {"N": 120},
        "medium": {"N": 400},
        "large": {"N": 2000},
        "bench": {"N": 2000},
    },
))
