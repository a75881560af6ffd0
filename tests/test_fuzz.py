"""Random affine programs under random option sets (polyk.fuzz), and every failure the
fuzzer found, kept as a regression test.

The hypothesis part is derandomized (the same examples on every run) and small; long random
runs are ``polyk fuzz --seconds N`` (docs/reliability.md).
"""

from __future__ import annotations

import logging
import random

import islpy as isl
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import polyk
from polyk import f64, fuzz

N, M = polyk.params("N M")


@pytest.fixture(autouse=True)
def _quiet(caplog):
    # random programs may hold statements that never run: polyk warns, as it should
    caplog.set_level(logging.ERROR, logger="polyk")


# ---------------------------------------------------------------- the generator itself

def test_generated_programs_are_valid_in_bounds_and_varied():
    depths, stmts, texts = set(), set(), []
    for seed in range(120):
        p = fuzz.program(seed)
        op = p.op()
        if seed < 60:
            op.scop()          # parses, and every access is inside its array
        depths.add(p.depth)
        stmts.add(p.n_statements)
        texts.append(p.source)
    assert depths == {1, 2, 3, 4}
    assert stmts == {1, 2, 3, 4, 5}
    src = "\n".join(texts)
    for feature in ("min(", "max(", "reversed(", ", -1, -1)", "if ", "else:", " % ", " // ",
                    "+=", "s0 = ", "alpha"):
        assert feature in src, f"no generated program uses {feature!r}"
    assert fuzz.program(7).source == fuzz.program(7).source     # a seed reproduces


def test_random_options_are_valid_and_cover_the_knobs():
    rnd = random.Random(3)
    seen = {}
    for _ in range(300):
        o = fuzz.random_options(rnd)
        polyk.Options(**o)     # valid
        for k, v in o.items():
            seen.setdefault(k, set()).add(repr(v))
    for knob in ("scheduler", "target", "fuse", "tile", "l2_tile", "wavefront", "intratile",
                 "fp_contract", "parallel_first", "omp_schedule"):
        assert knob in seen
    assert len(seen["scheduler"]) == 3 and len(seen["tile"]) >= 6


def test_checker_detects_a_wrong_kernel(monkeypatch):
    """The check can fail: a kernel that skips its last statement instance is caught."""
    prog = fuzz.Program(
        "def f(A: f64[N + 1]):\n    for i in range(N):\n        A[i + 1] += A[i]\n",
        "f", ("N",), [{"N": 3}, {"N": 6}])
    chk = fuzz.Checker(prog)
    chk.prepare()
    assert chk.check({"scheduler": "pluto", "fp_contract": False}).status == "ok"
    real = polyk.Kernel.__call__

    def short(self, *args, **kw):   # run at N - 1: the last element is not updated
        kw["N"] -= 1
        kw["A"] = kw["A"][:-1]
        return real(self, *args, **kw)
    monkeypatch.setattr(polyk.Kernel, "__call__", short)
    out = chk.check({"scheduler": "identity", "fp_contract": False})
    assert out.status == "mismatch" and "A[" in out.detail
    assert "def f(" in fuzz.reproducer(prog, out)


# ---------------------------------------------------------------- hypothesis

def SETTINGS(n):
    return settings(derandomize=True, deadline=None, database=None, max_examples=n,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _no_wrong_code(prog, options):
    chk = fuzz.Checker(prog)
    try:
        chk.prepare()    # untransformed code bitwise equal to the op run as Python
    except Exception as e:  # noqa: BLE001
        # isl's dataflow analysis past the fuzzer's operation budget: a known limit
        # (test_dependence_analysis_over_budget_is_a_clear_error); draw another program
        assume(fuzz.OVER_BUDGET not in str(e))
        raise
    for opts in options:
        out = chk.check(opts)
        assert out.status != "mismatch", out.detail + "\n" + fuzz.reproducer(prog, out)
        if out.status == "error":
            assert out.detail.startswith("ScheduleError"), \
                out.detail + "\n" + fuzz.reproducer(prog, out)


@SETTINGS(16)
@given(seed=st.integers(0, 2**40))
def test_random_programs_match_python(seed):
    """No option set gives wrong results; a refusal is a clear polyk error (never a crash).
    Refusals the fuzzer found are regression tests below."""
    prog = fuzz.program(seed)
    rnd = random.Random(seed)
    _no_wrong_code(prog, [fuzz.random_options(rnd, prog) for _ in range(3)])


@SETTINGS(6)
@given(prog=fuzz.programs(), data=st.data())
def test_random_programs_from_strategies(prog, data):
    """The same through hypothesis strategies (what a user's own property test would use)."""
    _no_wrong_code(prog, [data.draw(fuzz.option_sets(prog)) for _ in range(2)])


# ---------------------------------------------------------------- found by the fuzzer

def _check(source, options, sizes):
    params = tuple(p for p in ("N", "M") if p in source)
    prog = fuzz.Program(source, source.split("(")[0][4:], params, sizes)
    chk = fuzz.Checker(prog)
    chk.prepare()
    out = chk.check(options)
    assert out.status == "ok", f"{out.status}: {out.detail}"


ONE_ITERATION_SCALAR = """\
def one_iteration(A: f64[N + 1], B: f64[N]):
    for i in range(0, 3, 3):
        s = 0.5 * A[i + 1]
        B[N - 1] = s + A[i]
"""


@pytest.mark.parametrize("target", ["c", "openmp"])
def test_scalar_escaping_a_one_iteration_loop(target):
    """Fixed (polyk/schedule/parallel.py, band_coincidence): a loop of one iteration carries
    no dependence, so it was marked parallel though the scalar it writes is read after it
    (fuse='none' distributes the two statements); the OpenMP printer makes it private and
    the checker refused the schedule. The loop must stay sequential. (With home_scalars,
    the default, s lives in B[N - 1] instead and the case does not arise.)"""
    _check(ONE_ITERATION_SCALAR, {"target": target, "fuse": "none", "fp_contract": False,
                                  "home_scalars": False}, [{"N": 1}, {"N": 4}])
    k = polyk.generate(fuzz.Program(ONE_ITERATION_SCALAR, "one_iteration", ("N",), []).op(),
                       target="openmp", fuse="none", compile=False, home_scalars=False)
    assert "private scalars: s" in "; ".join(k.schedule.notes)


SPLIT_BAND_LOSES_INSTANCES = """\
def fuzz_1059(A: f64[N + 3, N + 3, N + 1]):
    for i in range(2, N, 3):
        A[N - 1, N - 1 + 3, i // 2 + 1] -= 0.5 * A[i, i, N - 1]
        for j in range(i // 2 + 1):
            A[i, N - 1 - j, N - 1] += A[N - 1 - i + 2, i, N - 1 - i] * -1.0 * j + 0.125 * i
    for i in range(1, N):
        for j in range(i + 1, N):
            if 2 * j + 1 >= N:
                A[i + 3, N - 1 - j + 3, i % 3 + 1] = 0.25 * A[i + 2, j % 3 + 1, i]
    for i in range(1, N):
        s0 = A[i + 1, i % 3 + 1, N - 1]
        for j in range(i, -1, -1):
            if i > j:
                A[N - 1 - i + 3, i % 3 + 3, i] *= -0.75
"""


def test_split_wavefront_band_keeps_every_instance():
    """Was wrong code (fuzz seed 1059): the wavefront of the tiled band b1 is split into two
    one-member bands so the OpenMP mark sits between them, and isl's default AST generation
    of the split tree dropped S1(5, 0..2) (a stride-3 loop under a tile loop) although the
    schedule map covers them. Fixed in polyk/schedule/parallel.py: the outer part of a split
    band is generated atomic. Checked with and without full/partial tile separation."""
    for separate in (True, False):
        _check(SPLIT_BAND_LOSES_INSTANCES, {"target": "openmp", "tile": {1: (2, 32)},
                                            "wavefront": True, "separate": separate,
                                            "fp_contract": False}, [{"N": 6}, {"N": 9}])


def test_split_wavefront_band_serial_target_is_right():
    """The same schedule printed without the split band (target='c') is correct."""
    _check(SPLIT_BAND_LOSES_INSTANCES, {"target": "c", "tile": {1: (2, 32)},
                                        "wavefront": True, "fp_contract": False},
           [{"N": 6}, {"N": 9}])


L2_TILES_LOSE_INSTANCES = """\
def l2(A: f64[N + 1]):
    for i in range(0, N, 3):
        for j in range(i, -1, -1):
            for k in range(N - 1, -1, -1):
                if j + i < N:
                    A[k] += 0.5
"""


def test_two_level_tiles_keep_every_instance():
    """Was wrong code (fuzz seed 100003, any scheduler): tile=(32, 32), l2_tile=(2, 3) built
    the L2 band from 'i - (i) mod 32 - (-floor(i/32)) mod 3', and isl's AST of that tree
    dropped S0(3, 0, k) at N=4 (the AST of the same schedule as a map kept it). Fixed with
    the L2 rewrite of polyk/tiling/rectangular.py (commit e5d3925: L2 tiles span factor x
    L1 size)."""
    _check(L2_TILES_LOSE_INSTANCES, {"tile": (32, 32), "l2_tile": (2, 3), "intratile": False,
                                     "fp_contract": False}, [{"N": 4}])


def test_two_level_tiles_small_sizes_are_right():
    _check(L2_TILES_LOSE_INSTANCES, {"tile": (4, 4), "l2_tile": (2, 2), "fp_contract": False},
           [{"N": 4}, {"N": 9}])


SCALAR_IN_TILED_BAND = """\
def scalar_in_tile(A: f64[N, N], B: f64[N, N, 4]):
    for i in range(N):
        for j in range(N):
            t = 0.5 * A[i, j]
            for k in range(4):
                B[i, j, k] += t * k
"""


def test_tiling_a_band_with_a_private_scalar():
    """Was refused (fuzz seed 1090; the checker: 'another write of scalar t falls
    between'): the band (i, j, k) is permutable once t is private, but tiles over all three
    loops put the write of t for (i, j + 1) between its write and read for (i, j). Fixed in
    polyk/tiling/rectangular.py: such a band gets only its outer loops tiled, here (i, j)."""
    _check(SCALAR_IN_TILED_BAND, {"scheduler": "isl", "tile": (2, 2, 2), "fp_contract": False},
           [{"N": 5}])
    op = fuzz.Program(SCALAR_IN_TILED_BAND, "scalar_in_tile", ("N",), []).op()
    notes = "; ".join(polyk.generate(op, scheduler="isl", tile=(2, 2, 2),
                                     compile=False).schedule.notes)
    assert "tiled 2x2 (outer 2 of 3 loops" in notes, notes


SCALAR_IN_WAVEFRONT = """\
def fuzz_400290(A: f64[N + 1], alpha: f64):
    for i in range(min(2, 6), 6):
        s0 = A[N - 1]
        for j in range(i):
            for k in range(i + 1, 6):
                for l in range(0, N, 3):
                    if 2 * l >= j + 1:
                        s = A[N - 1] + 2.0 * s0 * A[N - 1 - l + 1] + 0.75 * 2.0 * i
    for i in reversed(range(N)):
        for j in range(6 - 1):
            for k in range(2, N):
                for l in range(max(0, k - 2), min(N, k + 2)):
                    A[N - 1 + 1] = A[N - 1 - l + 1] + -1.0 * max(A[k % 3 + 1], A[i % 3 + 1])
"""


def test_wavefront_of_a_band_with_a_private_scalar():
    """Was refused (fuzz seed 400290): wavefront=True skewed a band holding the private
    scalar s0 (written at depth 1, read at depth 4), putting another write of s0 between its
    write and read. Fixed in polyk/schedule/parallel.py: such a band is not skewed, and
    ``explain`` says why."""
    _check(SCALAR_IN_WAVEFRONT, {"scheduler": "pluto", "fuse": "max", "wavefront": True,
                                 "fp_contract": False}, [{"N": 3}, {"N": 5}])
    op = fuzz.Program(SCALAR_IN_WAVEFRONT, "fuzz_400290", ("N",), []).op()
    notes = "; ".join(polyk.generate(op, scheduler="pluto", fuse="max", wavefront=True,
                                     compile=False).schedule.notes)
    assert "no wavefront: another write of scalar s0 falls between" in notes, notes


NO_HYPERPLANE = """\
def no_hyperplane(A: f64[N], B: f64[N + 3, 2 * N + 1, N + 3]):
    for i in range(2, N):
        for j in range(N):
            A[j] += B[i + 3, 2 * j, N - j]
        for j in range(2, N):
            B[j + 2, i + 1, i + 3] = 0.75
"""


def test_pluto_finds_a_hyperplane_for_a_legal_nest():
    """Was refused (fuzz seed 1101): Pluto's hyperplanes 2j | i + 1 and i + 1 | j are each
    legal, but leave S1 -> S0 and S0 -> S1 (different instances) at distance zero on both,
    a cycle no cut splits, with both statements at full rank. Fixed in
    polyk/schedule/pluto.py: the schedule is completed with the original loops."""
    _check(NO_HYPERPLANE, {"scheduler": "pluto", "fp_contract": False},
           [{"N": 5}, {"N": 8}, {"N": 11}])
    _check(NO_HYPERPLANE, {"scheduler": "pluto", "target": "openmp", "fp_contract": False},
           [{"N": 8}, {"N": 11}])
    op = fuzz.Program(NO_HYPERPLANE, "no_hyperplane", ("N",), []).op()
    notes = "; ".join(polyk.generate(op, scheduler="pluto", compile=False).schedule.notes)
    assert "completed in the original loop order" in notes, notes


def test_no_hyperplane_program_with_isl_is_right():
    _check(NO_HYPERPLANE, {"scheduler": "isl", "fp_contract": False}, [{"N": 5}, {"N": 8}])


DATAFLOW_HANG = """\
def fuzz_1103(A: f64[N + 1], B: f64[2 * N + 3]):
    for i in range(N):
        for j in range(N - 1, -1, -1):
            if j % 3 != 1:
                B[N - 1 - j + i % 3 + 1] += -0.5 * A[N - 1 + 1] * A[N - 1] + -0.5 * i \
+ 1.5 * A[N - 1 - j + 1]
            if j > i:
                B[j // 2 + 2] += 1.5 * B[i + i // 2 + 2] - B[i + N - 1 + 3]
    for i in range(N):
        for j in range(1, N, 3):
            if j // 2 == i // 3:
                A[i % 3 + 1] += 1.5 * B[i % 3] * A[i]
"""


def test_dependence_analysis_over_budget_is_a_clear_error():
    """isl's dataflow analysis runs for minutes on these modulo and floor-division
    conditions (fuzz seed 1103). Under an isl operation budget (polyk fuzz sets one) it
    stopped with a raw islpy.Error; now a ScheduleError naming the budget and the array."""
    op = fuzz.Program(DATAFLOW_HANG, "fuzz_1103", ("N",), []).op()
    with fuzz._isl_budget(3_000_000):
        with pytest.raises(polyk.PolykError, match="budget"):
            polyk.generate(op, scheduler="identity", compile=False)


def test_dependence_analysis_keeps_the_time_budget():
    """The same program under the time budget alone (no isl budget set by the caller):
    ``schedule_timeout`` bounds the dataflow analysis too, counted in isl operations
    (polyk/isl_budget.py), and the error names the option."""
    op = fuzz.Program(DATAFLOW_HANG, "fuzz_1103", ("N",), []).op()
    with pytest.raises(polyk.ScheduleError, match=r"array B.*schedule_timeout=0\.5 s"):
        polyk.generate(op, scheduler="identity", compile=False, schedule_timeout=0.5)
    assert isl.DEFAULT_CONTEXT.get_max_operations() == 0      # the budget does not leak


ISL_CANNOT_CARRY = """\
def fuzz_100059(A: f64[2 * N + 2, N + 2], alpha: f64):
    for i in reversed(range(N)):
        s0 = A[N - 1 + N - 1 - i, i // 2 + 2]
        for j in range(N - 1, -1, -1):
            if 2 * j + 1 >= N:
                A[N - 1 + 1, j + 2] += s0 - -1.0 * A[N - 1 + N - 1 + 2, N - 1 - i + 1] \\
* A[i + j + 1, i % 3] + A[N - 1 + j + 2, j] * A[2 * i + 2, j]
        for j in range(i // 2 + 1):
            if i < N - 1:
                A[i + N - 1 + 2, j + 2] += 0.75 * 0.75 * i - s0
    for i in range(2, N, 2):
        t1 = A[N - 1 + 1, N - 1 - i]
"""


def test_isl_scheduler_failure_is_a_clear_error():
    """Fixed (polyk/schedule/isl_scheduler.py): isl's scheduler gives up on this legal
    program ('unable to carry dependences', although every dependence goes forward in the
    original order); that was a raw islpy.Error from polyk's internals, it is now a
    ScheduleError naming the option to change. Pluto schedules it, correctly."""
    op = fuzz.Program(ISL_CANNOT_CARRY, "fuzz_100059", ("N",), []).op()
    for fuse in ("smart", "max", "none"):
        with pytest.raises(polyk.ScheduleError, match="scheduler='isl'.*unable to carry"):
            polyk.generate(op, scheduler="isl", fuse=fuse, compile=False)
    _check(ISL_CANNOT_CARRY, {"scheduler": "pluto", "fuse": "max", "fp_contract": False},
           [{"N": 3}, {"N": 6}])


ISL_OUTER_COINCIDENCE = """\
def fuzz_5500215(A: f64[2 * N + 2], B: f64[M + 2, 2 * M + 2], alpha: f64):
    for i in reversed(range(M)):
        for j in range(min(1, N), N):
            for k in reversed(range(4)):
                if 2 * k + 1 >= 4:
                    B[M - 1 + 2, M - 1 - i + i + 1] -= alpha * B[i // 2 + 1, i + i + 3]
    for i in range(2, N, 2):
        for j in range(min(1, M), M):
            A[i % 3 + i] -= 0.75 * alpha - abs(A[i // 2 + 1]) + 1.5 * alpha * alpha
"""


@pytest.mark.parametrize("fuse", ["smart", "max"])
def test_isl_scheduler_retried_without_outer_coincidence_seed_5500215(fuse):
    """Fixed (polyk/schedule/isl_scheduler.py): isl's scheduler with outer coincidence
    required found no schedule for this program ('unable to carry dependences'); without
    that requirement it does. polyk now tries that before giving up; the schedule goes
    through the legality checker like any other and matches the nest."""
    for sizes in ([{"N": 3, "M": 1}, {"N": 9, "M": 9}], [{"N": 6, "M": 5}]):
        _check(ISL_OUTER_COINCIDENCE, {"scheduler": "isl", "fuse": fuse, "target": "c",
                                       "fp_contract": False, "tile": (2,), "l2_tile": (2,),
                                       "wavefront": True}, sizes)
        _check(ISL_OUTER_COINCIDENCE, {"scheduler": "isl", "fuse": fuse,
                                       "target": "openmp", "fp_contract": False}, sizes)


def test_fuzz_command_prints_counts(capsys):
    from polyk.cli import main
    rc = main(["fuzz", "--seconds", "1", "--seed", "5", "--options", "2"])
    out = capsys.readouterr().out
    import re
    m = re.search(r"programs (\d+), option sets checked (\d+)", out)
    # at least one program is checked whatever the machine's speed, each under 2 option sets
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) == 2 * int(m.group(1)), out
    assert "(final)" in out
    assert rc == (0 if "mismatch 0, error 0" in out else 1)


def test_fuzz_repro_prints_the_program(capsys):
    from polyk.cli import main
    main(["fuzz", "--repro", "5", "--options", "1"])
    out = capsys.readouterr().out
    assert fuzz.program(5).source.strip() in out


WITHOUT_PARAMETERS = """\
def no_params(A: f64[7]):
    for i in range(5):
        A[i] = -0.5 * A[i + 1]
"""


@pytest.mark.parametrize("target", ["c", "openmp"])
def test_program_without_parameters(target):
    """Fixed (polyk/schedule/tree.py): isl reads '[] -> [...]' as an empty tuple, so every
    band Pluto found for a program without parameters lost its members and the schedule
    ran the loop in any order; the checker refused it ('reverses the dependence'). Fuzz
    seed 100218."""
    _check(WITHOUT_PARAMETERS, {"scheduler": "pluto", "target": target, "fp_contract": False},
           [{}])
    op = fuzz.Program(WITHOUT_PARAMETERS, "no_params", (), []).op()
    k = polyk.generate(op, compile=False)
    assert "S0[i] -> [(i)]" in str(k.schedule.tree)


OPENMP_TILES_WITH_SCALAR = """\
def fuzz_400672(A: f64[2 * 4 + 2, 4 + 3, 4 + 1], B: f64[N + 1, 4 + 1], alpha: f64):
    for i in range(N - 1, -1, -1):
        s0 = B[i // 2 + 1, 0]
        for j in range(4 - 1, -1, -1):
            if 2 * i >= j + 1:
                t1 = 0.75 * s0 + A[j + 2, j + 1, j // 2 + 1]
                B[i % 3 + 1, j // 2 + 1] = 2.0 * s0 + 2.0 * i
"""


def test_openmp_tiles_with_private_scalars():
    """Was wrong code (fuzz seed 400672): with tile=(2, 3, 1, 2) the write of s0 (S0) and a
    read (S2, j = 0) fall in different tiles of an outer tile loop, and the point loop
    between them was marked parallel: the outlined body's private s0 lost the value. The
    parallel test (polyk/schedule/parallel.py) and the checker (legality.py) now ask that
    a private scalar's values stay within one iteration of one execution of the loop."""
    _check(OPENMP_TILES_WITH_SCALAR, {"scheduler": "pluto", "target": "openmp",
                                      "tile": (2, 3, 1, 2), "wavefront": False,
                                      "fp_contract": False}, [{"N": 2}, {"N": 4}])


def test_checker_refuses_private_scalar_flowing_between_executions():
    """The schedule of the test above, with the parallel mark planted back on the point
    loop that was wrongly parallel: the checker refuses it, naming the scalar."""
    import islpy as isl
    from polyk.schedule.legality import check_schedule
    from polyk.schedule.schedule import POINT_MARK, parallel_mark

    op = fuzz.Program(OPENMP_TILES_WITH_SCALAR, "fuzz_400672", ("N",), []).op()
    k = polyk.generate(op, scheduler="pluto", target="c", tile=(2, 3, 1, 2), simd=False,
                       unroll_jam=False, pack=False, separate=False, compile=False)
    marked = []

    def plant(node):
        if node.get_type() == isl.schedule_node_type.mark and \
                node.mark_get_id().get_name().startswith(POINT_MARK):
            band = node.child(0)
            marked.append(True)
            return band.insert_mark(isl.Id(parallel_mark(band.get_schedule_depth()))).parent()
        return node
    tree = k.schedule.tree.map_schedule_node_bottom_up(plant)
    assert marked
    with pytest.raises(polyk.ScheduleError, match="scalar s0 is private to a parallel loop "
                       "but its value flows from one execution of the loop to a later one"):
        check_schedule(k.scop, tree)


def test_serial_tiles_with_private_scalars_are_right():
    _check(OPENMP_TILES_WITH_SCALAR, {"scheduler": "pluto", "target": "c",
                                      "tile": (2, 3, 1, 2), "fp_contract": False},
           [{"N": 2}, {"N": 4}])


# ------------------------------------------------ found by the run of 2026-11-22 (H100 host)

def _seed_ok(seed, options):
    ch = fuzz.Checker(fuzz.program(seed))
    ch.prepare()
    out = ch.check(options)
    assert out.status == "ok", f"{out.status}: {out.detail}"


@pytest.mark.parametrize("seed,options", [
    (780093, {"scheduler": "pluto", "target": "openmp", "fp_contract": True, "fuse": "max",
              "tile": (1, 4, 2), "wavefront": False, "sizes": {"N": 3, "M": 1},
              "pack": True}),
    (780080, {"scheduler": "pluto", "target": "c", "fp_contract": False, "fuse": "none",
              "tile": (2,), "wavefront": True, "diamond": False, "pack": True}),
    (760007, {"scheduler": "isl", "target": "c", "fp_contract": False, "fuse": "max",
              "tile": (5, 5, 5), "pack": True}),
])
def test_packed_three_dimensional_buffers(seed, options):
    """Was wrong code: a packed buffer of rank 3 was indexed (a * s1 + b * s2 + c) instead
    of ((a * s1 + b) * s2 + c), so rows overlapped (polyk/tiling/packing.py, _Pack.element).
    Five programs of the run had it; pack=True forces packing of every array."""
    _seed_ok(seed, options)


def test_scalar_write_at_the_same_time_as_a_read_is_refused_then_rescheduled():
    """Was wrong code (seed 710085): isl's scheduler, told that t1 is private, put the
    write of t1 for (i, j + 1) and its read for (i, j) at the same schedule time; the AST
    printed the write first. The checker took "at the same time" for "not between"; it now
    treats instances at one time as unordered (legality.py, _maybe_between), refuses that
    schedule, and the pipeline reschedules with t1 shared."""
    _seed_ok(710085, {"scheduler": "isl", "target": "openmp", "fp_contract": False,
                      "fuse": "smart"})


def test_statement_peeled_out_of_a_parallel_loop_keeps_its_private_scalar():
    """Was wrong code (fuzz seed 760045): identity schedule specialised to N=3, M=2 under
    OpenMP; S1 runs only in the last iteration of the parallel loop, isl's AST printed it
    after the loop, and it read s0, a local of the loop's outlined body (0.0 read). The
    printer now leaves a loop sequential when a scalar written in it flows to a statement
    printed outside it (c_printer.py, _escaping)."""
    _seed_ok(760045, {"scheduler": "identity", "target": "openmp", "fp_contract": True,
                      "sizes": {"N": 3, "M": 2}})


@pytest.mark.parametrize("options", [
    {"scheduler": "pluto", "target": "c", "fp_contract": False, "fuse": "max",
     "wavefront": True, "sizes": {"N": 2, "M": 2}, "diamond": "auto", "separate": False,
     "unroll_jam": None},
    {"scheduler": "isl", "target": "openmp", "fp_contract": True, "fuse": "smart",
     "tile": (2,), "omp_schedule": "runtime", "simd": False, "scalar_replace": False},
])
def test_scalar_read_after_a_simd_or_parallel_loop_seed_1000024(options):
    """Was wrong code (fuzz seed 1000024, H200 host): t0 is written for every j and read
    by S3 at j = 3 only; isl printed S3 after the j loop, which was 'omp simd private(t0)'
    (or an outlined parallel body), so S3 read a stale t0. Same fix as seed 760045."""
    _seed_ok(1000024, options)


def test_nested_tiles_do_not_pack_one_array_twice_seed_1260097():
    """Was wrong code (fuzz seed 1260097, H200 host): tiles 2x32 over a 32x32-tiled inner
    band both packed A; the inner tiles copied A afresh and wrote back, then the outer
    tile's copy-out overwrote them with its stale buffer (2 of 945 elements). An array
    packed in a tile below is not packed again above (tiling/packing.py)."""
    _seed_ok(1260097, {"scheduler": "pluto", "target": "openmp", "fp_contract": False,
                       "fuse": "smart", "tile": (2,), "omp_schedule": "runtime",
                       "simd": "ivdep", "vector_width": None, "scalar_replace": True,
                       "pack": True})


def test_isl_schedule_with_per_band_tiles_seed_730113():
    """Was wrong code (fuzz seed 730113): isl scheduler, fuse='none', tiles
    {0: (2, 3, 1, 2), 1: (1, 4, 2)}; isl's AST of the tiled tree skipped instances of S0
    and S1 (5 of 36 elements of A wrong at N=5, M=5). Now caught by the AST check
    (polyk/codegen/ast_check.py), which makes the pipeline print the nest as written."""
    with pytest.warns(polyk.PolykWarning, match="isl's code for the isl schedule is wrong"):
        _seed_ok(730113, {"scheduler": "isl", "target": "c", "fp_contract": False,
                          "fuse": "none", "tile": {0: (2, 3, 1, 2), 1: (1, 4, 2)},
                          "intratile": False, "diamond": False, "scalar_replace": False})


def test_isl_ast_of_a_stride_under_a_skewed_tile_seed_910068():
    """Was wrong code (fuzz seed 910068, found on the H200 host): the Pluto schedule
    (l, i - j, i, k) of a nest where (j + k) mod 2 = 0; isl's AST took k for a function of
    i - j and dropped the k loop (A[3] wrong at M=3), whatever the constraint order or
    AST options. The AST check refuses it and the nest as written is printed."""
    with pytest.warns(polyk.PolykWarning, match="misses the instances"):
        _seed_ok(910068, {"scheduler": "pluto", "target": "openmp", "fp_contract": False,
                          "fuse": "none", "parallel_first": True, "coef_bound": 3,
                          "tile": {0: (1, 4, 2), 1: (2,)}, "l2_tile": (2, 3),
                          "wavefront": True, "sizes": {"M": 3}, "diamond": "auto",
                          "separate": False, "pack": False})


def test_isl_ast_depends_on_constraint_order_seed_910314():
    """Was wrong code (fuzz seed 910314, found on the H200 host): a 3x2-tiled wavefront
    over a domain with j // 2 == i // 3; isl's AST turned the inner point loop into a guard
    for the domain's constraints in the order the front end built them (2 of 72 elements
    wrong), and printed the right loop for the same tree re-read from its text. The
    printer now builds from the re-read tree, and checks the result."""
    _seed_ok(910314, {"scheduler": "pluto", "target": "openmp", "fp_contract": True,
                      "fuse": "none", "tile": {0: (3, 2), 1: (1,)}, "diamond": "auto"})


def test_isl_ast_wrong_where_the_full_check_is_over_budget_seed_2120010():
    """Was wrong code (fuzz seed 2120010, H200 host, first found once the private-scalar
    band was tiled instead of refused): isl's AST of a 32x32-tiled band under modulo
    conditions missed S4 instances at N = 4 and 6, and the AST check for all N needed over
    13 minutes, so the AST was printed unverified. The check now falls back to sampled
    values of N, finds the AST wrong at N = 4, and the pipeline prints the nest as written."""
    with pytest.warns(polyk.PolykWarning, match="at N = 4: the AST misses the instances"):
        _seed_ok(2120010, {"scheduler": "isl", "target": "c", "fp_contract": True,
                           "fuse": "smart", "tile": (1,), "simd": "ivdep",
                           "vector_width": 256})


def test_dataflow_failing_inside_isl_falls_back_to_memory_dependences_seed_2020017():
    """Was a traceback (fuzz seed 2020017): isl's dataflow for B's anti dependences (writes
    as kills) failed inside isl ('affine expression involves some of the domain
    dimensions'), and with N = M = 3 fixed another kind did too. Such a kind now uses
    memory-based dependences (a superset: legal, maybe less parallel)."""
    prog = fuzz.program(2020017)
    chk = fuzz.Checker(prog)
    chk.prepare()
    for opts in ({"scheduler": "pluto", "fp_contract": False},
                 {"scheduler": "pluto", "target": "openmp", "sizes": {"N": 3, "M": 3},
                  "tile": True, "fp_contract": False},
                 {"scheduler": "isl", "fp_contract": False}):
        out = chk.check(opts)
        assert out.status == "ok", f"{opts}: {out.status}: {out.detail}"


def test_isl_ast_generator_failure_drops_tile_separation_seed_2260021(monkeypatch):
    """Was a traceback (fuzz seed 2260021): isl's AST generator failed ('call to
    isl_ast_build_node_from_schedule failed: <no message>') on the OpenMP tree whose 2-wide
    tiles carry the isolate option of full/partial tile separation. The printer now tries
    the tree without separation, and says so. (Its band is a wavefront of tiles, which is
    no longer separated at all, and by default not even a wavefront, its dependences only
    ordering accumulations; the test asks for the wavefront and separates it as before to
    reach the fallback.)"""
    from polyk.tiling import separation
    monkeypatch.setattr(separation, "_wavefront", lambda tile: False)
    opts = {"scheduler": "pluto", "target": "openmp", "fp_contract": True, "fuse": "smart",
            "coef_bound": 2, "tile": (2,), "intratile": False, "unroll_jam": (1, 2),
            "scalar_replace": True, "pack": True, "wavefront": True}
    _seed_ok(2260021, opts)
    k = polyk.generate(fuzz.program(2260021).op(), compile=False, **opts)
    assert "full/partial tile separation dropped" in k.source


SCALAR_IN_A_SKEWED_BAND = """\
def g(A: f64[N], B: f64[N + 1, N + 1]):
    for i in range(N):
        t = A[i] * 0.5
        for j in range(N):
            B[i + 1, j + 1] = B[i, j + 1] + B[i + 1, j] + t
"""


def test_band_left_untiled_for_a_private_scalar_gets_no_wavefront():
    """Only tiled bands get the automatic wavefront of OpenMP: a band whose tiles would
    interleave the private scalar t is left untiled, and the note saying so must not count
    as tiling (review of the fix for seed 1090)."""
    opts = {"scheduler": "pluto", "fuse": "max", "tile": True, "target": "openmp",
            "fp_contract": False}
    _check(SCALAR_IN_A_SKEWED_BAND, opts, [{"N": 5}, {"N": 40}])
    k = polyk.generate(fuzz.Program(SCALAR_IN_A_SKEWED_BAND, "g", ("N",), []).op(),
                       compile=False, **opts)
    notes = "; ".join(k.schedule.notes)
    assert "b0 not tiled: another write of scalar t" in notes, notes
    assert "wavefront" not in notes, notes
