"""The 30 PolyBench kernels at their SMALL size: every kernel x {identity, pluto with smart,
max and no fusion} x {serial C, OpenMP with 2 threads} equals the NumPy reference.

CI runs, per kernel, the identity schedule serially and Pluto (smart fusion) with OpenMP,
plus one more combination chosen by the kernel's position; the rest is ``slow``."""

from __future__ import annotations

import pytest

import polyk
from polyk.kernels import LIBRARY
from polyk.kernels.polybench import NAMES

SCHEDULES = [("identity", None), ("pluto", "smart"), ("pluto", "max"), ("pluto", "none")]
TARGETS = ["c", "openmp"]


def _cases():
    out = []
    for n, name in enumerate(NAMES):
        combos = [(s, f, t) for s, f in SCHEDULES for t in TARGETS]
        ci = {("identity", None, "c"), ("pluto", "smart", "openmp"), combos[n % len(combos)]}
        for s, f, t in combos:
            marks = () if (s, f, t) in ci else (pytest.mark.slow,)
            out.append(pytest.param(name, s, f, t, marks=marks,
                                    id=f"{name}-{s}{'-' + f if f else ''}-{t}"))
    return out


@pytest.mark.parametrize("name,scheduler,fuse,target", _cases())
def test_small_size_matches_reference(name, scheduler, fuse, target):
    spec = LIBRARY[name]
    k = polyk.generate(spec.op, target, scheduler=scheduler, fuse=fuse)
    with polyk.openmp_threads(2):
        err = polyk.check(k, spec.reference, spec.sizes["small"], seed=3, rtol=spec.rtol)
    assert err >= 0.0
