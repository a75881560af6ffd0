"""Stencil kernels (PolyBench/C 4.2 semantics): jacobi-2d, seidel-2d, fdtd-2d."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from ._spec import KernelSpec, register

N, TSTEPS = polyk.params("N TSTEPS")
NX, NY, TMAX = polyk.params("NX NY TMAX")


# ---------------------------------------------------------------- jacobi-2d
@polyk.op
def jacobi_2d(A: f64[N, N], B: f64[N, N]):
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                B[i, j] = 0.2 * (A[i, j] + A[i, j - 1] + A[i, j + 1] + A[i + 1, j] + A[i - 1, j])
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = 0.2 * (B[i, j] + B[i, j - 1] + B[i, j + 1] + B[i + 1, j] + B[i - 1, j])


def jacobi_2d_ref(A, B, TSTEPS):
    for _ in range(TSTEPS):
        B[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:]
                               + A[2:, 1:-1] + A[:-2, 1:-1])
        A[1:-1, 1:-1] = 0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:]
                               + B[2:, 1:-1] + B[:-2, 1:-1])


register(KernelSpec(
    name="jacobi-2d", op=jacobi_2d, reference=jacobi_2d_ref,
    sizes={
        "python": {"N": 7, "TSTEPS": 2},
        "test": {"N": 37, "TSTEPS": 5},
        "test_edge": {"N": 3, "TSTEPS": 1},
        "bench": {"N": 2000, "TSTEPS": 20},
    },
    description="2-D Jacobi: TSTEPS steps of a 5-point average, A -> B then B -> A",
))


# ---------------------------------------------------------------- seidel-2d
@polyk.op
def seidel_2d(A: f64[N, N]):
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                           + A[i, j - 1] + A[i, j] + A[i, j + 1]
                           + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


def seidel_2d_ref(A, TSTEPS):
    # Gauss-Seidel in place, row by row and left to right. Point (i, j) reads the new values of
    # (i-1, j-1), (i-1, j), (i-1, j+1), (i, j-1) and the old values of the rest, so all points
    # of one wavefront w = 2*i + j are independent: sweep the wavefronts in order, vectorised.
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


register(KernelSpec(
    name="seidel-2d", op=seidel_2d, reference=seidel_2d_ref,
    sizes={
        "python": {"N": 7, "TSTEPS": 2},
        "test": {"N": 41, "TSTEPS": 4},
        "test_edge": {"N": 3, "TSTEPS": 2},
        "bench": {"N": 2000, "TSTEPS": 20},
    },
    description="2-D Gauss-Seidel: TSTEPS in-place sweeps of a 9-point average",
))


# ---------------------------------------------------------------- fdtd-2d
@polyk.op
def fdtd_2d(ex: f64[NX, NY], ey: f64[NX, NY], hz: f64[NX, NY], _fict_: f64[TMAX]):
    for t in range(TMAX):
        for j in range(NY):
            ey[0, j] = _fict_[t]
        for i in range(1, NX):
            for j in range(NY):
                ey[i, j] = ey[i, j] - 0.5 * (hz[i, j] - hz[i - 1, j])
        for i in range(NX):
            for j in range(1, NY):
                ex[i, j] = ex[i, j] - 0.5 * (hz[i, j] - hz[i, j - 1])
        for i in range(NX - 1):
            for j in range(NY - 1):
                hz[i, j] = hz[i, j] - 0.7 * (ex[i, j + 1] - ex[i, j] + ey[i + 1, j] - ey[i, j])


def fdtd_2d_ref(ex, ey, hz, _fict_):
    for t in range(_fict_.shape[0]):
        ey[0, :] = _fict_[t]
        ey[1:, :] = ey[1:, :] - 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] = ex[:, 1:] - 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] = hz[:-1, :-1] - 0.7 * (ex[:-1, 1:] - ex[:-1, :-1]
                                             + ey[1:, :-1] - ey[:-1, :-1])


register(KernelSpec(
    name="fdtd-2d", op=fdtd_2d, reference=fdtd_2d_ref,
    sizes={
        "python": {"TMAX": 2, "NX": 6, "NY": 8},
        "test": {"TMAX": 5, "NX": 30, "NY": 41},
        "test_edge": {"TMAX": 2, "NX": 1, "NY": 4},
        "bench": {"TMAX": 20, "NX": 1000, "NY": 1200},
    },
    description="2-D finite-difference time domain: TMAX steps updating E (ex, ey) then H (hz)",
))
