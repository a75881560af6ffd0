"""Scalar accumulators kept in the array element they end in (polyk/scop/homing.py).

Where the rewrite applies (ludcmp's four webs of ``w``, a dot product accumulated in a
scalar) the kernel must be bitwise the untransformed one under -ffp-contract=off, the
scalar must be gone from the SCoP and the loops it serialised tiled; where it does not
(the home is read or written while the scalar is live, a value crosses iterations, the
types differ, the last statement does not run in every iteration, a C variable could be
seen after the region), nothing may change.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import polyk
from polyk import f32, f64
from polyk.kernels import LIBRARY
from polyk.scop import compute_dependences
from polyk.scop.homing import find_homes

N, M, K = polyk.params("N M K")


def homes_of(op):
    scop = op.scop()
    return [(h.scalar, h.statements, h.text) for h in find_homes(scop, compute_dependences(scop))]


def assert_bitwise_as_written(op, inputs, **opts):
    """The op under ``opts`` computes bitwise what the untransformed nest computes."""
    base = polyk.generate(op, scheduler="identity", fp_contract=False)
    k = polyk.generate(op, fp_contract=False, **opts)
    want = {n: v.copy() for n, v in inputs.items()}
    got = {n: v.copy() for n, v in inputs.items()}
    base(**want)
    with polyk.openmp_threads(2):
        k(**got)
    for n in inputs:
        np.testing.assert_array_equal(got[n], want[n], err_msg=f"{op.name}: {n} {opts}")
    return k


# ---------------------------------------------------------------- where it applies

def test_ludcmp_webs_are_kept_in_their_last_elements():
    assert homes_of(LIBRARY["ludcmp"].op) == [
        ("w", ("S0", "S1", "S2"), "A[i, j]"),
        ("w", ("S3", "S4", "S5"), "A[i, j]"),
        ("w", ("S6", "S7", "S8"), "y[i]"),
        ("w", ("S9", "S10", "S11"), "x[i]"),
    ]


def test_ludcmp_homed_is_lu_tiled_in_three_dimensions():
    """w gone, the copies w = A[i, j], A[i, j] = w and y[i] = w dropped, the factorisation one
    32x32x32-tiled band as in lu (its back substitution, a separate component of the
    dependence graph that needs a cut, no longer closes the factorisation's band)."""
    k = polyk.generate(LIBRARY["ludcmp"].op, target="openmp", tile=True, compile=False)
    assert "w" not in k.scop.arrays
    names = {s.name for s in k.scop.statements}
    assert names == {f"S{n}" for n in range(12)} - {"S0", "S3", "S5", "S8"}, names
    assert "scalar w of S0, S1, S2 kept in A[i, j]" in k.schedule.notes
    assert "b0 tiled 32x32x32" in k.schedule.notes, k.schedule.notes
    assert "double w;" not in k.source


@pytest.mark.parametrize("opts", [dict(), dict(target="openmp", tile=True),
                                  dict(target="openmp", tile=(5, 7, 3)),
                                  dict(target="openmp", tile=True, pack=True,
                                       unroll_jam=(2, 4))],
                         ids=["plain", "tiled", "odd-tiles", "packed"])
def test_ludcmp_homed_bitwise_as_written(opts):
    spec = LIBRARY["ludcmp"]
    inputs = spec.op.make_inputs({"N": 45}, seed=3)
    assert_bitwise_as_written(spec.op, inputs, **opts)


@polyk.op
def dot_in_scalar(C: f64[N, M], A: f64[N, K], B: f64[K, M]):
    for i in range(N):
        for j in range(M):
            acc = 0.0
            for k in range(K):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc


def test_scalar_dot_product_becomes_a_matrix_product():
    assert homes_of(dot_in_scalar) == [("acc", ("S0", "S1", "S2"), "C[i, j]")]
    k = polyk.generate(dot_in_scalar, target="openmp", tile=True, compile=False)
    assert "acc" not in k.scop.arrays
    assert any(re.fullmatch(r"b\d tiled \d+x\d+x\d+", n) for n in k.schedule.notes), \
        k.schedule.notes
    rng = np.random.default_rng(0)
    inputs = {"C": np.zeros((13, 17)), "A": rng.standard_normal((13, 11)),
              "B": rng.standard_normal((11, 17))}
    for opts in (dict(target="openmp", tile=True), dict(target="openmp", tile=(4, 4, 4))):
        assert_bitwise_as_written(dot_in_scalar, inputs, **opts)


def test_home_scalars_false_keeps_the_scalar():
    k = polyk.generate(dot_in_scalar, home_scalars=False, compile=False)
    assert "acc" in k.scop.arrays
    assert not any("kept in" in n for n in k.schedule.notes)
    k = polyk.generate(dot_in_scalar, scheduler="identity", compile=False)
    assert "acc" in k.scop.arrays                 # the loop nest as written


def test_home_scalars_option_is_checked():
    with pytest.raises(polyk.OptionsError, match="home_scalars must be True or False"):
        polyk.Options(home_scalars="yes")


# ---------------------------------------------------------------- where it must not

@polyk.op
def home_read_at_the_end(C: f64[N, M], A: f64[N, K], B: f64[K, M]):
    for i in range(N):
        for j in range(M):
            acc = 0.0
            for k in range(K):
                acc += A[i, k] * B[k, j]
            C[i, j] = 0.5 * C[i, j] + acc          # needs C[i, j]'s old value


@polyk.op
def home_read_while_live(C: f64[N, N], A: f64[N, N]):
    for i in range(N):
        for j in range(N):
            acc = 0.0
            for k in range(N):
                acc += A[i, k] * C[k, j]           # reads C[i, j] itself at k = i
            C[i, j] = acc


@polyk.op
def home_written_while_live(C: f64[N], A: f64[N]):
    for i in range(N):
        t = A[i]
        C[i] = 1.0                                 # the home, before t is stored there
        C[i] = t * 2.0


@polyk.op
def value_crosses_iterations(B: f64[N], A: f64[N]):
    w = 0.0
    for i in range(N):
        w = w * 0.5 + A[i]
        B[i] = w


@polyk.op
def last_not_in_every_iteration(B: f64[N], A: f64[N]):
    for i in range(N):
        t = A[i] * 2.0
        if i > 2:
            B[i] = t


@polyk.op
def other_type(B: f64[N], A: f32[N]):
    for i in range(N):
        t = A[i] * A[i]                            # float32
        B[i] = t


@pytest.mark.parametrize("op", [home_read_at_the_end, home_read_while_live,
                                home_written_while_live, value_crosses_iterations,
                                last_not_in_every_iteration, other_type],
                         ids=lambda o: o.name)
def test_not_homed(op):
    assert homes_of(op) == []
    k = polyk.generate(op, compile=False)
    assert not any("kept in" in n for n in k.schedule.notes)


def test_not_homed_ops_still_compute_what_they_say():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((9, 9))
    inputs = {"C": rng.standard_normal((9, 9)), "A": a}
    assert_bitwise_as_written(home_read_while_live, inputs, target="openmp", tile=(4, 4, 4))


C_REGION = """
void f(int n, double A[n][n], double x[n]) {
  %s
#pragma scop
  for (int i = 0; i < n; i++) {
    %s = 0.0;
    for (int j = 0; j < n; j++)
      s += A[i][j] * A[i][j];
    x[i] = s;
  }
#pragma endscop
}
"""


def test_c_temporaries_homed_only_when_declared_inside_the_region():
    """A variable of the function may be read after the region: its final value must stay
    in it. One declared inside the region cannot be seen after it."""
    outside = polyk.from_c(text=C_REGION % ("double s;", "s"))
    assert homes_of(outside) == []
    inside = polyk.from_c(text=C_REGION % ("", "double s"))
    assert homes_of(inside) == [("s", ("S0", "S1", "S2"), "x[i]")]
    rng = np.random.default_rng(2)
    inputs = {"A": rng.standard_normal((7, 7)), "x": np.zeros(7)}
    k = assert_bitwise_as_written(inside, inputs, target="openmp", tile=(4, 4))
    assert "kept in x[i]" in " ".join(k.schedule.notes)
