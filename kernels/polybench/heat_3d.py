"""heat-3d (PolyBench/C 4.2, stencils): 3-D heat equation, explicit scheme: each of TSTEPS
steps applies a 7-point stencil A -> B, then B -> A."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")


@polyk.op
def heat_3d(A: f64[N, N, N], B: f64[N, N, N]):
    for t in range(1, TSTEPS + 1):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                for k in range(1, N - 1):
                    B[i, j, k] = (0.125 * (A[i + 1, j, k] - 2.0 * A[i, j, k] + A[i - 1, j, k])
                                  + 0.125 * (A[i, j + 1, k] - 2.0 * A[i, j, k] + A[i, j - 1, k])
                                  + 0.125 * (A[i, j, k + 1] - 2.0 * A[i, j, k] + A[i, j, k - 1])
                                  + A[i, j, k])
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                for k in range(1, N - 1):
                    A[i, j, k] = (0.125 * (B[i + 1, j, k] - 2.0 * B[i, j, k] + B[i - 1, j, k])
                                  + 0.125 * (B[i, j + 1, k] - 2.0 * B[i, j, k] + B[i, j - 1, k])
                                  + 0.125 * (B[i, j, k + 1] - 2.0 * B[i, j, k] + B[i, j, k - 1])
                                  + B[i, j, k])


def _step(src, dst):
    c = src[1:-1, 1:-1, 1:-1]
    dst[1:-1, 1:-1, 1:-1] = (0.125 * (src[2:, 1:-1, 1:-1] - 2.0 * c + src[:-2, 1:-1, 1:-1])
                             + 0.125 * (src[1:-1, 2:, 1:-1] - 2.0 * c + src[1:-1, :-2, 1:-1])
                             + 0.125 * (src[1:-1, 1:-1, 2:] - 2.0 * c + src[1:-1, 1:-1, :-2])
                             + c)


def reference(A, B, TSTEPS):
    for _ in range(TSTEPS):
        _step(A, B)
        _step(B, A)


@heat_3d.inputs
def gen(sizes, rng):
    # PolyBench sets A = B = (i + j + (N - k)) * 10 / N; random values in [-1, 1) here
    n = sizes["N"]
    A = rng.uniform(-1.0, 1.0, (n, n, n))
    return {"A": A, "B": A.copy()}


SPEC = register(KernelSpec(
    name="heat-3d", op=heat_3d, reference=reference, suite="polybench",
    description="3-D heat equation: TSTEPS steps of a 7-point stencil, A -> B then B -> A",
    sizes={
        "python": {"N": 5, "TSTEPS": 2},
        "test": {"N": 21, "TSTEPS": 4},
        "test_edge": {"N": 3, "TSTEPS": 1},   # N < 3 has no interior
        "mini": {"N": 10, "TSTEPS": 20},
        "small": {"N": 20, "TSTEPS": 40},
        "medium": {"N": 40, "TSTEPS": 100},
        "large": {"N": 120, "TSTEPS": 500},
        "bench": {"N": 120, "TSTEPS": 500},
    },
))
