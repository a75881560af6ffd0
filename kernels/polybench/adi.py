"""adi (PolyBench/C 4.2, stencils): alternating direction implicit solver of a 2-D heat
equation: each time step a column sweep then a row sweep, each a set of tridiagonal
systems solved by the Thomas algorithm (forward elimination, backward substitution)."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")


# The coefficients are computed inside the op from N and TSTEPS, as in PolyBench's scop.
@polyk.op
def adi(u: f64[N, N], v: f64[N, N], p: f64[N, N], q: f64[N, N]):
    DX = 1.0 / float(N)
    DY = 1.0 / float(N)
    DT = 1.0 / float(TSTEPS)
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)

    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d

    for t in range(1, TSTEPS + 1):
        # column sweep
        for i in range(1, N - 1):
            v[0, i] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = v[0, i]
            for j in range(1, N - 1):
                p[i, j] = -c / (a * p[i, j - 1] + b)
                q[i, j] = ((-d * u[j, i - 1] + (1.0 + 2.0 * d) * u[j, i] - f * u[j, i + 1]
                            - a * q[i, j - 1]) / (a * p[i, j - 1] + b))
            v[N - 1, i] = 1.0
            for j in range(N - 2, 0, -1):
                v[j, i] = p[i, j] * v[j + 1, i] + q[i, j]
        # row sweep
        for i in range(1, N - 1):
            u[i, 0] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = u[i, 0]
            for j in range(1, N - 1):
                p[i, j] = -f / (d * p[i, j - 1] + e)
                q[i, j] = ((-a * v[i - 1, j] + (1.0 + 2.0 * a) * v[i, j] - c * v[i + 1, j]
                            - d * q[i, j - 1]) / (d * p[i, j - 1] + e))
            u[i, N - 1] = 1.0
            for j in range(N - 2, 0, -1):
                u[i, j] = p[i, j] * u[i, j + 1] + q[i, j]


def reference(u, v, p, q, TSTEPS):
    n = u.shape[0]
    DX = 1.0 / float(n)
    DY = 1.0 / float(n)
    DT = 1.0 / float(TSTEPS)
    mul1 = 2.0 * DT / (DX * DX)
    mul2 = 1.0 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    if n < 3:
        return
    I = slice(1, n - 1)          # the rows (row sweep) or columns (column sweep) solved
    for _ in range(TSTEPS):
        # column sweep: system i reads column i of u (and its neighbours), writes column i of v
        v[0, I] = 1.0
        p[I, 0] = 0.0
        q[I, 0] = v[0, I]
        for j in range(1, n - 1):
            p[I, j] = -c / (a * p[I, j - 1] + b)
            q[I, j] = ((-d * u[j, 0:n - 2] + (1.0 + 2.0 * d) * u[j, I] - f * u[j, 2:n]
                        - a * q[I, j - 1]) / (a * p[I, j - 1] + b))
        v[n - 1, I] = 1.0
        for j in range(n - 2, 0, -1):
            v[j, I] = p[I, j] * v[j + 1, I] + q[I, j]
        # row sweep: system i reads rows i-1, i, i+1 of v, writes row i of u
        u[I, 0] = 1.0
        p[I, 0] = 0.0
        q[I, 0] = u[I, 0]
        for j in range(1, n - 1):
            p[I, j] = -f / (d * p[I, j - 1] + e)
            q[I, j] = ((-a * v[0:n - 2, j] + (1.0 + 2.0 * a) * v[I, j] - c * v[2:n, j]
                        - d * q[I, j - 1]) / (d * p[I, j - 1] + e))
        u[I, n - 1] = 1.0
        for j in range(n - 2, 0, -1):
            u[I, j] = p[I, j] * u[I, j + 1] + q[I, j]


@adi.inputs
def gen(sizes, rng):
    # u as in PolyBench, u[i][j] = (i + N - j) / N; v, p, q (outputs) start at 0
    n = sizes["N"]
    i, j = np.indices((n, n))
    z = np.zeros((n, n))
    return {"u": (i + n - j) / n, "v": z.copy(), "p": z.copy(), "q": z.copy()}


SPEC = register(KernelSpec(
    name="adi", op=adi, reference=reference, suite="polybench",
    description="ADI 2-D heat solver: tridiagonal column sweep, then row sweep, per time step",
    sizes={
        "python": {"N": 6, "TSTEPS": 2},
        "test": {"N": 33, "TSTEPS": 4},
        "test_edge": {"N": 3, "TSTEPS": 1},   # N < 3 has no interior
        "mini": {"N": 20, "TSTEPS": 20},
        "small": {"N": 60, "TSTEPS": 40},
        "medium": {"N": 200, "TSTEPS": 100},
        "large": {"N": 1000, "TSTEPS": 500},
        "bench": {"N": 1000, "TSTEPS": 500},
    },
))
