"""cholesky (PolyBench/C 4.2, linear-algebra/solvers): in-place Cholesky factorisation
A = L L^T of a symmetric positive-definite matrix; L overwrites the lower triangle."""

from __future__ import annotations

import math

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def cholesky(A: f64[N, N]):
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[j, k]
            A[i, j] /= A[j, j]
        for k in range(i):
            A[i, i] -= A[i, k] * A[i, k]
        A[i, i] = math.sqrt(A[i, i])


def reference(A):
    L = np.linalg.cholesky(np.tril(A) + np.tril(A, -1).T)   # from the lower triangle only
    low = np.tril_indices(A.shape[0])
    A[low] = L[low]


@cholesky.inputs
def gen(sizes, rng):
    # PolyBench builds a positive-definite matrix as B B^T; here B is random in [-1, 1) and
    # N I keeps the matrix well conditioned. The strict upper triangle is never read or written.
    n = sizes["N"]
    B = rng.uniform(-1.0, 1.0, (n, n))
    return {"A": B @ B.T / n + n * np.eye(n)}


SPEC = register(KernelSpec(
    name="cholesky", op=cholesky, reference=reference, suite="polybench",
    description="in-place Cholesky factorisation A = L L^T (lower triangle) of an SPD matrix",
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
