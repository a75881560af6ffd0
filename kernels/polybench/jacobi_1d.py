"""jacobi-1d (PolyBench/C 4.2, stencils): 1-D Jacobi: each of TSTEPS steps applies a
3-point average A -> B, then B -> A."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")


@polyk.op
def jacobi_1d(A: f64[N], B: f64[N]):
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1])
        for i in range(1, N - 1):
            A[i] = 0.33333 * (B[i - 1] + B[i] + B[i + 1])


def reference(A, B, TSTEPS):
    for _ in range(TSTEPS):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])


@jacobi_1d.inputs
def gen(sizes, rng):
    # PolyBench: A[i] = (i + 2) / N, B[i] = (i + 3) / N; random values in [-1, 1) here
    n = sizes["N"]
    return {"A": rng.uniform(-1.0, 1.0, n), "B": rng.uniform(-1.0, 1.0, n)}


SPEC = register(KernelSpec(
    name="jacobi-1d", op=jacobi_1d, reference=reference, suite="polybench",
    description="1-D Jacobi: TSTEPS steps of a 3-point average, A -> B then B -> A",
    sizes={
        "python": {"N": 8, "TSTEPS": 2},
        "test": {"N": 40, "TSTEPS": 6},
        "test_edge": {"N": 3, "TSTEPS": 1},   # N < 3 has no interior
        "mini": {"N": 30, "TSTEPS": 20},
        "small": {"N": 120, "TSTEPS": 40},
        "medium": {"N": 400, "TSTEPS": 100},
        "large": {"N": 2000, "TSTEPS": 500},
        "bench": {"N": 2000, "TSTEPS": 500},
    },
))
