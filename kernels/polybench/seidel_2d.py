"""seidel-2d (PolyBench/C 4.2, stencils): 2-D Gauss-Seidel: TSTEPS in-place sweeps of a
9-point average, row by row, left to right."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")


@polyk.op
def seidel_2d(A: f64[N, N]):
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                           + A[i, j - 1] + A[i, j] + A[i, j + 1]
                           + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


def reference(A, TSTEPS):
    # Point (i, j) reads the new values of (i-1, j-1), (i-1, j), (i-1, j+1), (i, j-1) and the
    # old values of the rest, so all points of one wavefront w = 2*i + j are independent:
    # sweep the wavefronts in order, each vectorised.
    n = A.shape[0]
    if n < 3:
        return
    fronts = []
    for w in range(3, 3 * (n - 2) + 1):
        i = np.arange(max(1, (w - (n - 2) + 1) // 2), min(n - 2, (w - 1) // 2) + 1)
        j = w - 2 * i
        if i.size:
            fronts.append((i, j))
    for _ in range(TSTEPS):
        for i, j in fronts:
            A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                       + A[i, j - 1] + A[i, j] + A[i, j + 1]
                       + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


@seidel_2d.inputs
def gen(sizes, rng):
    # PolyBench: A[i][j] = (i*(j+2) + 2) / N; random values in [-1, 1) here
    n = sizes["N"]
    return {"A": rng.uniform(-1.0, 1.0, (n, n))}


SPEC = register(KernelSpec(
    name="seidel-2d", op=seidel_2d, reference=reference, suite="polybench",
    description="2-D Gauss-Seidel: TSTEPS in-place sweeps of a 9-point average",
    sizes={
        "python": {"N": 7, "TSTEPS": 2},
        "test": {"N": 41, "TSTEPS": 4},
        "test_edge": {"N": 3, "TSTEPS": 1},   # N < 3 has no interior
        "mini": {"N": 40, "TSTEPS": 20},
        "small": {"N": 120, "TSTEPS": 40},
        "medium": {"N": 400, "TSTEPS": 100},
        "large": {"N": 2000, "TSTEPS": 500},
        "bench": {"N": 2000, "TSTEPS": 500},
    },
))
