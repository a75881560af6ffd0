"""fdtd-2d (PolyBench/C 4.2, stencils): 2-D finite-difference time-domain (Yee) scheme:
each of TMAX steps sets a source row, updates the electric fields ex, ey, then the
magnetic field hz."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

NX, NY, TMAX = polyk.params("NX NY TMAX")


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


def reference(ex, ey, hz, _fict_):
    for t in range(_fict_.shape[0]):
        ey[0, :] = _fict_[t]
        ey[1:, :] = ey[1:, :] - 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] = ex[:, 1:] - 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] = hz[:-1, :-1] - 0.7 * (ex[:-1, 1:] - ex[:-1, :-1]
                                             + ey[1:, :-1] - ey[:-1, :-1])


@fdtd_2d.inputs
def gen(sizes, rng):
    # fields random in [-1, 1) (PolyBench: i*(j+1)/NX, ...); the source _fict_[t] = t
    nx, ny, tmax = sizes["NX"], sizes["NY"], sizes["TMAX"]
    return {"ex": rng.uniform(-1.0, 1.0, (nx, ny)), "ey": rng.uniform(-1.0, 1.0, (nx, ny)),
            "hz": rng.uniform(-1.0, 1.0, (nx, ny)), "_fict_": np.arange(tmax, dtype=np.float64)}


SPEC = register(KernelSpec(
    name="fdtd-2d", op=fdtd_2d, reference=reference, suite="polybench",
    description="2-D finite-difference time domain: TMAX steps updating E (ex, ey) then H (hz)",
    sizes={
        "python": {"NX": 6, "NY": 8, "TMAX": 2},
        "test": {"NX": 30, "NY": 41, "TMAX": 5},
        "test_edge": {"NX": 1, "NY": 4, "TMAX": 2},
        "mini": {"NX": 20, "NY": 30, "TMAX": 20},
        "small": {"NX": 60, "NY": 80, "TMAX": 40},
        "medium": {"NX": 200, "NY": 240, "TMAX": 100},
        "large": {"NX": 1000, "NY": 1200, "TMAX": 500},
        "bench": {"NX": 1000, "NY": 1200, "TMAX": 500},
    },
))
