"""trisolv (PolyBench/C 4.2, linear-algebra/solvers): forward substitution, solving L x = b
for a lower triangular L."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def trisolv(L: f64[N, N], x: f64[N], b: f64[N]):
    for i in range(N):
        x[i] = b[i]
        for j in range(i):
            x[i] -= L[i, j] * x[j]
        x[i] = x[i] / L[i, i]


def reference(L, x, b):
    for i in range(L.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


@trisolv.inputs
def gen(sizes, rng):
    # PolyBench's L (entries about 2, unit-ish diagonal) makes x grow exponentially with N.
    # Here the strict lower triangle is random in [0, 1) and each diagonal entry exceeds its
    # row's off-diagonal sum by 1 (rows diagonally dominant: x stays bounded). The strict
    # upper triangle (never read) is 0; x starts at -999 and b[i] = i as in PolyBench.
    n = sizes["N"]
    L = np.tril(rng.uniform(0.0, 1.0, (n, n)), -1)
    L[np.diag_indices(n)] = 1.0 + L.sum(axis=1)
    return {"L": L, "x": np.full(n, -999.0), "b": np.arange(n, dtype=np.float64)}


SPEC = register(KernelSpec(
    name="trisolv", op=trisolv, reference=reference, suite="polybench",
    description="forward substitution: solve L x = b for lower triangular L",
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
