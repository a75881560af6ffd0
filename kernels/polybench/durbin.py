"""durbin (PolyBench/C 4.2, linear-algebra/solvers): Levinson-Durbin recursion, solving the
Yule-Walker equations T y = -r for the symmetric Toeplitz matrix T with unit diagonal and
first off-diagonals r[0..N-2]."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


# PolyBench declares z as a local array of the kernel; an op has no local arrays, so z is a
# (scratch) argument here and in the C version.
@polyk.op
def durbin(r: f64[N], y: f64[N], z: f64[N]):
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, N):
        beta = (1 - alpha * alpha) * beta
        sum = 0.0
        for i in range(k):
            sum += r[k - i - 1] * y[i]
        alpha = -(r[k] + sum) / beta
        for i in range(k):
            z[i] = y[i] + alpha * y[k - i - 1]
        for i in range(k):
            y[i] = z[i]
        y[k] = alpha


def reference(r, y, z):
    n = r.shape[0]
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        s = r[k - 1::-1] @ y[:k]
        alpha = -(r[k] + s) / beta
        z[:k] = y[:k] + alpha * y[k - 1::-1]
        y[:k] = z[:k]
        y[k] = alpha


@durbin.inputs
def gen(sizes, rng):
    # PolyBench's r[i] = N + 1 - i makes the recursion blow up. Here r is the autocorrelation
    # 0.5^(k+1) of an AR(1) process, perturbed by up to 10%: the Toeplitz matrix stays
    # positive definite (smallest eigenvalue >= 1/3 - 0.2), so |alpha| < 1 and beta stays
    # away from 0 at every size.
    n = sizes["N"]
    k = np.arange(n)
    r = 0.5 ** (k + 1) * (1.0 + rng.uniform(-0.1, 0.1, n))
    return {"r": r, "y": np.zeros(n), "z": np.zeros(n)}


SPEC = register(KernelSpec(
    name="durbin", op=durbin, reference=reference, suite="polybench",
    description="Levinson-Durbin recursion: solve the Yule-Walker Toeplitz system for y",
    sizes={
        "python": {"N": 7},
        "test": {"N": 39},
        "test_edge": {"N": 1},
        "mini": {"N": 40},
        "small": {"N": 120},
        "medium": {"N": 400},
        "large": {"N": 2000},
        "bench": {"N": 2000},
    },
))
