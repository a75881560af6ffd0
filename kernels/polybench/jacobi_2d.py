"""jacobi-2d (PolyBench/C 4.2, stencils): 2-D Jacobi: each of TSTEPS steps applies a
5-point average A -> B, then B -> A."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")


@polyk.op
def jacobi_2d(A: f64[N, N], B: f64[N, N]):
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                B[i, j] = 0.2 * (A[i, j] + A[i, j - 1] + A[i, 1 + j] + A[1 + i, j] + A[i - 1, j])
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = 0.2 * (B[i, j] + B[i, j - 1] + B[i, 1 + j] + B[1 + i, j] + B[i - 1, j])


def reference(A, B, TSTEPS):
    for _ in range(TSTEPS):
        B[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:]
                               + A[2:, 1:-1] + A[:-2, 1:-1])
        A[1:-1, 1:-1] = 0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:]
                               + B[2:, 1:-1] + B[:-2, 1:-1])


@jacobi_2d.inputs
def gen(sizes, rng):
    # PolyBench: A[i][j] = (i*(j+2) + 2) / N, B[i][j] = (i*(j+3) + 3) / N; random here
    n = sizes["N"]
    return {"A": rng.uniform(-1.0, 1.0, (n, n)), "B": rng.uniform(-1.0, 1.0, (n, n))}


SPEC = register(KernelSpec(
    name="jacobi-2d", op=jacobi_2d, reference=reference, suite="polybench",
    description="2-D Jacobi: TSTEPS steps of a 5-point average, A -> B then B -> A",
    sizes={
        "python": {"N": 7, "TSTEPS": 2},
        "test": {"N": 37, "TSTEPS": 5},
        "test_edge": {"N": 3, "TSTEPS": 1},   # N < 3 has no interior
        "mini": {"N": 30, "TSTEPS": 20},
        "small": {"N": 90, "TSTEPS": 40},
        "medium": {"N": 250, "TSTEPS": 100},
        "large": {"N": 1300, "TSTEPS": 500},
        "bench": {"N": 1300, "TSTEPS": 500},
    },
))
