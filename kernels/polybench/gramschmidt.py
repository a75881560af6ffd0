"""gramschmidt (PolyBench/C 4.2, linear-algebra/solvers): QR decomposition A = Q R of an
M x N matrix by modified Gram-Schmidt; A is overwritten (its columns are orthogonalised)."""

from __future__ import annotations

import math

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def gramschmidt(A: f64[M, N], R: f64[N, N], Q: f64[M, N]):
    for k in range(N):
        nrm = 0.0
        for i in range(M):
            nrm += A[i, k] * A[i, k]
        R[k, k] = math.sqrt(nrm)
        for i in range(M):
            Q[i, k] = A[i, k] / R[k, k]
        for j in range(k + 1, N):
            R[k, j] = 0.0
            for i in range(M):
                R[k, j] += Q[i, k] * A[i, j]
            for i in range(M):
                A[i, j] = A[i, j] - Q[i, k] * R[k, j]


def reference(A, R, Q):
    n = A.shape[1]
    for k in range(n):
        R[k, k] = np.sqrt(A[:, k] @ A[:, k])
        Q[:, k] = A[:, k] / R[k, k]
        R[k, k + 1:] = Q[:, k] @ A[:, k + 1:]
        A[:, k + 1:] -= np.outer(Q[:, k], R[k, k + 1:])


@gramschmidt.inputs
def gen(sizes, rng):
    # A must have full column rank (M >= N in every size set): random entries in [-1, 1)
    # plus 2 on the leading diagonal keep it well conditioned. R and Q start at 0 as in
    # PolyBench (the strict lower triangle of R is never written).
    m, n = sizes["M"], sizes["N"]
    A = rng.uniform(-1.0, 1.0, (m, n))
    d = np.arange(min(m, n))
    A[d, d] += 2.0
    return {"A": A, "R": np.zeros((n, n)), "Q": np.zeros((m, n))}


SPEC = register(KernelSpec(
    name="gramschmidt", op=gramschmidt, reference=reference, suite="polybench",
    description="modified Gram-Schmidt QR decomposition A = Q R (A overwritten)",
    # PolyBench 4.2's datasets have M < N (e.g. LARGE: M = 1000, N = 1200): A cannot have full
    # column rank and the last N - M columns divide rounding noise by rounding noise. M and N
    # are swapped here so that every size set has M >= N.
    sizes={
        "python": {"M": 7, "N": 5},
        "test": {"M": 36, "N": 27},
        "test_edge": {"M": 2, "N": 1},
        "mini": {"M": 30, "N": 20},
        "small": {"M": 80, "N": 60},
        "medium": {"M": 240, "N": 200},
        "large": {"M": 1200, "N": 1000},
        "bench": {"M": 1200, "N": 1000},
    },
))
