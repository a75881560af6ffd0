"""polyk.check catches wrong kernels and wrong references, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import polyk
from polyk import f32, f64, i64
from polyk.kernels import LIBRARY

N = polyk.params("N")


@polyk.op
def prefix(x: f64[N], y: f64[N]):
    y[0] = x[0]
    for i in range(1, N):
        y[i] = y[i - 1] + x[i]


@polyk.op
def prefix_off_by_one(x: f64[N], y: f64[N]):
    y[0] = x[0]
    for i in range(1, N - 1):          # planted bug: misses the last element
        y[i] = y[i - 1] + x[i]


def prefix_ref(x, y):
    y[:] = np.cumsum(x)


def prefix_ref_off_by_one(x, y):
    y[:-1] = np.cumsum(x)[:-1]         # planted bug: forgets the last element
    y[-1] = 0.0


def test_correct_kernel_passes():
    k = polyk.generate(prefix)
    err = polyk.check(k, prefix_ref, {"N": 100})
    assert 0.0 <= err < 1e-12


def test_off_by_one_in_kernel_is_caught():
    k = polyk.generate(prefix_off_by_one)
    with pytest.raises(polyk.MismatchError, match=r"y\[99\]"):
        polyk.check(k, prefix_ref, {"N": 100})


def test_off_by_one_in_reference_is_caught():
    k = polyk.generate(prefix)
    with pytest.raises(polyk.MismatchError, match=r"y\[99\]"):
        polyk.check(k, prefix_ref_off_by_one, {"N": 100})


def test_planted_bug_in_library_reference_is_caught():
    spec = LIBRARY["gemm"]
    k = polyk.generate(spec.op)

    def wrong(alpha, beta, C, A, B):
        spec.reference(alpha=alpha, beta=beta, C=C, A=A, B=B)
        C[-1, -1] += 1e-6 * abs(C[-1, -1]) + 1e-9

    with pytest.raises(polyk.MismatchError):
        polyk.check(k, wrong, {"NI": 9, "NJ": 8, "NK": 7})


@polyk.op
def scale_int(a: i64, x: i64[N]):
    for i in range(N):
        x[i] = x[i] * a + i


def test_integers_compare_exactly():
    k = polyk.generate(scale_int)

    def ref(a, x):
        x[:] = x * a + np.arange(len(x))

    assert polyk.check(k, ref, {"N": 33}) == 0.0

    def ref_wrong(a, x):
        x[:] = x * a + np.arange(len(x))
        x[5] += 1

    with pytest.raises(polyk.MismatchError, match=r"x\[5\]"):
        polyk.check(k, ref_wrong, {"N": 33})


@polyk.op
def dot32(x: f32[N], y: f32[N], out: f32[1]):
    out[0] = 0.0
    for i in range(N):
        out[0] += x[i] * y[i]


def test_float32_tolerance_scales_with_reduction_length():
    k = polyk.generate(dot32)

    def ref(x, y, out):   # accumulates in float64: differs by rounding only
        out[0] = np.dot(x.astype(np.float64), y.astype(np.float64))

    err = polyk.check(k, ref, {"N": 4000})
    assert err > 0.0       # float32 accumulation does differ from float64 ...
    with pytest.raises(polyk.MismatchError):   # ... and a tight tolerance would flag it
        polyk.check(k, ref, {"N": 4000}, rtol=1e-12)


def test_inputs_can_be_given():
    k = polyk.generate(prefix)
    x = np.arange(10, dtype=np.float64)
    y = np.zeros(10)
    assert polyk.check(k, prefix_ref, inputs={"x": x, "y": y}) < 1e-15
    assert np.all(y == 0)     # check works on copies
