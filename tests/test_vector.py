"""Vector marks (``#pragma omp simd`` / ``GCC ivdep`` on innermost parallel stride-1 loops),
their check by the legality checker, and full/partial tile separation."""

from __future__ import annotations

import islpy as isl
import numpy as np
import pytest

import polyk
from polyk import f64
from polyk.errors import OptionsError, ScheduleError
from polyk.kernels import LIBRARY
from polyk.schedule import check_schedule
from polyk.schedule.schedule import simd_mark

from conftest import copy_args, free_params

N, M = polyk.params("N M")


@polyk.op
def shift_rows(A: f64[N, M]):
    """j carries A[i, j-1] -> A[i, j]; i is parallel."""
    for i in range(N):
        for j in range(1, M):
            A[i, j] = A[i, j - 1] * 0.5 + A[i, j]


@polyk.op
def scaled_copy(A: f64[N, M], B: f64[N, M]):
    for i in range(N):
        for j in range(M):
            t = A[i, j] * 2.0
            B[i, j] = t + 1.0


@polyk.op
def column_walk(A: f64[N, M], B: f64[M, N]):
    """The innermost loop walks A with stride M: not worth a simd mark."""
    for i in range(N):
        for j in range(M):
            B[j, i] = A[i, j] + 1.0


def _bands(tree):
    out = []

    def visit(node):
        if node.get_type() == isl.schedule_node_type.band:
            out.append(node.copy())
        return True

    tree.get_root().foreach_descendant_top_down(visit)
    return out


def _simd_above(tree, index):
    node = _bands(tree)[index]
    return node.insert_mark(isl.Id(simd_mark(node.get_schedule_depth()))).get_schedule()


def test_simd_mark_on_a_carrying_loop_is_refused():
    scop = shift_rows.scop()
    with pytest.raises(ScheduleError, match="a loop marked simd carries the dependence"):
        check_schedule(scop, _simd_above(scop.schedule, 1))       # j carries
    check_schedule(scop, _simd_above(scop.schedule, 0))           # i does not


def test_simd_mark_with_a_scalar_temporary_is_checked_like_a_parallel_loop():
    scop = scaled_copy.scop()
    check_schedule(scop, _simd_above(scop.schedule, 1))           # t private per iteration


def test_pluto_marks_only_the_parallel_loop_simd():
    k = polyk.generate(shift_rows, compile=False)
    src = k.source
    # Pluto keeps j (carrying) inner: nothing to mark; the checker passed either way
    assert "omp simd" not in src
    k = polyk.generate(scaled_copy, compile=False, home_scalars=False)
    assert "#pragma omp simd private(t)" in k.source


def test_strided_innermost_loop_is_not_marked():
    k = polyk.generate(column_walk, intratile=False, compile=False)
    assert "omp simd" not in k.source


@pytest.mark.parametrize("simd, text", [(True, "#pragma omp simd"), ("ivdep", "#pragma GCC ivdep"),
                                        (False, None)])
def test_tiled_gemm_innermost_loop_is_marked(simd, text):
    spec = LIBRARY["gemm"]
    k = polyk.generate(spec.op, tile=(8, 8, 8), simd=simd, fp_contract=False)
    src = k.source
    if text is None:
        assert "omp simd" not in src and "ivdep" not in src
    else:
        assert text in src
        # the pragma is on the innermost loop: the next line opens a loop whose body has
        # no loop
        after = src.split(text, 1)[1].splitlines()
        assert after[1].strip().startswith("for (")
        assert "for (" not in "\n".join(after[2:5])
    sz = spec.sizes["test_edge"] if "test_edge" in spec.sizes else spec.sizes["test"]
    inp = spec.op.make_inputs(sz, seed=3)
    want, got = copy_args(inp), copy_args(inp)
    polyk.generate(spec.op, scheduler="identity", fp_contract=False)(**want)
    k(**got)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


def test_simd_option_is_validated():
    with pytest.raises(OptionsError, match="simd must be"):
        polyk.Options(simd="avx")
    with pytest.raises(OptionsError, match="vector_width"):
        polyk.Options(vector_width=1024)
    assert "-mprefer-vector-width=512" in polyk.Options(vector_width=512).flags()
    assert "-fopenmp-simd" in polyk.Options().flags()


# ---------------------------------------------------------------- tile separation

def test_full_tiles_have_constant_point_loop_bounds():
    spec = LIBRARY["gemm"]
    # (no register blocks or packing: register blocks are isolated on their own)
    plain = {"unroll_jam": False, "pack": False, "compile": False}
    sep = polyk.generate(spec.op, tile={"b1": (16, 16, 16)}, **plain).source
    nosep = polyk.generate(spec.op, tile={"b1": (16, 16, 16)}, separate=False, **plain).source
    # in the full tiles the point loops run 0..15 with no min(); without separation every
    # point loop is bounded by min(15, ...)
    assert "<= 15; c" in sep
    assert "<= 15; c" not in nosep
    assert "polyk_min_i64(15," in nosep


@pytest.mark.parametrize("name, tile", [("gemm", {"b1": (7, 5, 3)}), ("2mm", (6, 5, 4)),
                                        ("lu", (8, 3, 5)), ("trmm", (4, 4, 4))])
def test_separated_tiles_compute_the_same(name, tile):
    spec = LIBRARY[name]
    sz = spec.sizes["test"]
    extra = {p: sz[p] for p in free_params(spec.op)}
    inp = spec.op.make_inputs(sz, seed=5)
    want = copy_args(inp)
    polyk.generate(spec.op, scheduler="identity", fp_contract=False)(**want, **extra)
    k = polyk.generate(spec.op, tile=tile, fp_contract=False)
    assert any("separated" in n for n in k.schedule.notes)
    got = copy_args(inp)
    k(**got, **extra)
    for a in want:
        np.testing.assert_array_equal(got[a], want[a])


def test_parallel_point_loop_sunk_below_the_reduction_loops():
    """conv2d: the band (n, k, p, q, c) has the filter loops r, s below it (the sum's order
    c, r, s is fixed). Its point loop q, parallel with stride-1 accesses, goes innermost
    and is marked simd; the parallel mark above the point band no longer names it.
    Results bitwise those of the loop nest as written."""
    import numpy as np
    from polyk.kernels import LIBRARY
    from conftest import copy_args
    spec = LIBRARY["conv2d"]
    k = polyk.generate(spec.op, target="openmp", tile=True, compile=False)
    assert any(n.startswith("point loop c8 moved innermost") for n in k.schedule.notes), \
        k.schedule.notes
    assert "loop c11 marked simd" in k.schedule.notes
    body = k.source[k.source.index("#pragma omp simd\n", k.source.index("c11")):]
    assert body.split("\n")[1].strip().startswith("for (int64_t c11")
    sz = spec.sizes["test"]
    inp = spec.op.make_inputs(sz, seed=7)
    want = copy_args(inp)
    polyk.generate(spec.op, scheduler="identity", fp_contract=False)(**want)
    for opts in (dict(tile=True), dict(tile={1: (2, 4, 8, 16, 3)}), dict(tile={1: (1, 1, 5, 7, 2)})):
        got = copy_args(inp)
        kk = polyk.generate(spec.op, target="openmp", fp_contract=False, **opts)
        assert any("moved innermost" in n for n in kk.schedule.notes), opts
        with polyk.openmp_threads(2):
            kk(**got)
        np.testing.assert_array_equal(got["out"], want["out"], err_msg=str(opts))
    k = polyk.generate(spec.op, target="openmp", tile=True, intratile=False, compile=False)
    assert not any("moved innermost" in n for n in k.schedule.notes)
