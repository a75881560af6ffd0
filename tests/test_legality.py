"""The independent legality checker (``polyk.schedule.check_schedule``) on schedules built
by hand: illegal ones are refused with a message naming the violated dependence (its
statements and their source lines), legal ones — transformed or not — are accepted; so are
parallel marks on parallel loops, and marks on loops that carry a dependence are refused,
scalar temporaries included (a private scalar must not carry a value across iterations)."""

from __future__ import annotations

import islpy as isl
import numpy as np
import pytest

import polyk
from polyk import f64
from polyk.kernels import LIBRARY
from polyk.schedule import Schedule, check_schedule, identity_schedule
from polyk.schedule.schedule import PARALLEL_MARK

N, M = polyk.params("N M")


# ---------------------------------------------------------------- ops

@polyk.op
def prefix_sum(x: f64[N]):
    for k in range(1, N):
        x[k] += x[k - 1]


@polyk.op
def producer_consumer(A: f64[N], B: f64[N], C: f64[N]):
    for i in range(N):
        B[i] = A[i] * 2.0
    for i in range(N):
        C[i] = B[i] + 1.0


@polyk.op
def diagonal(A: f64[N, M]):
    """Distance (1, -1): interchange is illegal, (i, i + j) and then interchange is legal."""
    for i in range(1, N):
        for j in range(M - 1):
            A[i, j] = 0.5 * A[i - 1, j + 1]


@polyk.op
def matmul(C: f64[N, M], A: f64[N, M], B: f64[M, M]):
    for i in range(N):
        for j in range(M):
            for k in range(M):
                C[i, j] += A[i, k] * B[k, j]


@polyk.op
def temp(A: f64[N], B: f64[N]):
    """A scalar temporary, written before it is read in every iteration."""
    for i in range(N):
        t = A[i] * 2.0
        B[i] = t + 1.0


@polyk.op
def rowsum(A: f64[N, M], out: f64[N]):
    """``s`` is private to the i loop; its value flows across the j loop."""
    for i in range(N):
        s = 0.0
        for j in range(M):
            s += A[i, j]
        out[i] = s


@polyk.op
def running_sum(A: f64[N], out: f64[N]):
    """``s`` accumulates across the iterations of i."""
    s = 0.0
    for i in range(N):
        s += A[i]
        out[i] = s


@polyk.op
def carried_scalar(A: f64[N], B: f64[N]):
    for i in range(N):
        if i == 0:
            s = A[i] * 2.0
        B[i] = s + A[i]


@polyk.op
def invariant_scalar(A: f64[N], out: f64[N]):
    """``s`` is set before the loop and only read in it; ``t`` is private to it."""
    s = A[0] * 2.0
    for i in range(N):
        t = A[i] * s
        out[i] = t + s


# ---------------------------------------------------------------- helpers

def flat_schedule(scop, text: str) -> isl.Schedule:
    """A one-band schedule tree from a flat map ``{ S[i] -> [..]; ... }``."""
    mupa = isl.MultiUnionPwAff.from_union_map(isl.UnionMap(text))
    return isl.Schedule.from_domain(scop.domain()).insert_partial_schedule(mupa)


def where(scop, stmt: str) -> str:
    """How the checker names a statement: ``S0 (line 12)``."""
    return f"{stmt} (line {scop.statement(stmt).line})"


def refused(scop, schedule, *stmts) -> str:
    with pytest.raises(polyk.ScheduleError) as info:
        check_schedule(scop, schedule)
    msg = str(info.value)
    for s in stmts:
        assert where(scop, s) in msg, msg
    return msg


def bands(tree: isl.Schedule) -> list[isl.ScheduleNode]:
    out = []

    def visit(node):
        if node.get_type() == isl.schedule_node_type.band:
            out.append(node.copy())
        return True

    tree.get_root().foreach_descendant_top_down(visit)
    return out


def mark_band(tree: isl.Schedule, index: int, member: int = 0) -> isl.Schedule:
    """``tree`` with a parallel mark above member ``member`` of its ``index``-th band
    (top-down), split off where it is not the first."""
    node = bands(tree)[index]
    if member:
        node = node.band_split(member).child(0)
    return node.insert_mark(isl.Id(PARALLEL_MARK)).get_schedule()


# ---------------------------------------------------------------- illegal schedules

def test_original_schedules_are_legal():
    for op in (prefix_sum, producer_consumer, diagonal, matmul, temp, rowsum, running_sum):
        scop = op.scop()
        check_schedule(scop, scop.schedule)
        check_schedule(scop, identity_schedule(scop))


def test_reversed_prefix_sum_is_refused():
    scop = prefix_sum.scop()
    msg = refused(scop, flat_schedule(scop, "[N] -> { S0[k] -> [-k] }"), "S0")
    assert "reverses the dependence" in msg
    assert f"{where(scop, 'S0')} -> {where(scop, 'S0')}" in msg
    check_schedule(scop, flat_schedule(scop, "[N] -> { S0[k] -> [k] }"))
    check_schedule(scop, flat_schedule(scop, "[N] -> { S0[k] -> [2k + 5] }"))


def test_consumer_before_producer_is_refused():
    scop = producer_consumer.scop()
    msg = refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [1, i]; S1[i] -> [0, i] }"),
                  "S0", "S1")
    assert f"{where(scop, 'S0')} -> {where(scop, 'S1')}" in msg
    # fused, consumer first within an iteration: also refused
    refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [i, 1]; S1[i] -> [i, 0] }"),
            "S0", "S1")
    # fused with the producer first, or the consumer loop reversed: legal
    check_schedule(scop, flat_schedule(scop, "[N] -> { S0[i] -> [i, 0]; S1[i] -> [i, 1] }"))
    check_schedule(scop, flat_schedule(scop, "[N] -> { S0[i] -> [0, i]; S1[i] -> [1, -i] }"))
    # fused with the consumer shifted one iteration early: S1(i) before S0(i)
    refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [i, 0]; S1[i] -> [i - 1, 1] }"),
            "S0", "S1")


def test_forbidden_interchange_is_refused():
    scop = diagonal.scop()
    msg = refused(scop, flat_schedule(scop, "[N, M] -> { S0[i, j] -> [j, i] }"), "S0")
    assert "reverses the dependence" in msg
    # skewing first makes the interchange legal
    check_schedule(scop, flat_schedule(scop, "[N, M] -> { S0[i, j] -> [i + j, i] }"))
    check_schedule(scop, flat_schedule(scop, "[N, M] -> { S0[i, j] -> [i, i + j] }"))
    # matmul: any order of i, j, k is legal as long as k runs forwards
    mm = matmul.scop()
    for order in ("i, j, k", "j, i, k", "k, i, j", "i, k, j"):
        check_schedule(mm, flat_schedule(mm, f"[N, M] -> {{ S0[i, j, k] -> [{order}] }}"))
    refused(mm, flat_schedule(mm, "[N, M] -> { S0[i, j, k] -> [i, j, -k] }"), "S0")


def test_incomplete_schedule_is_refused():
    scop = producer_consumer.scop()
    part = isl.Schedule.from_domain(isl.UnionSet("[N] -> { S0[i] : 0 <= i < N }"))
    with pytest.raises(polyk.ScheduleError, match="does not cover every statement"):
        check_schedule(scop, part)


def test_checker_accepts_schedule_objects_and_trees():
    scop = prefix_sum.scop()
    bad = flat_schedule(scop, "[N] -> { S0[k] -> [-k] }")
    with pytest.raises(polyk.ScheduleError):
        check_schedule(scop, Schedule(bad, "pluto"))


# ---------------------------------------------------------------- parallel marks

def test_parallel_mark_on_carrying_loop_is_refused():
    scop = prefix_sum.scop()
    msg = refused(scop, mark_band(scop.schedule, 0), "S0")
    assert "a loop marked parallel carries the dependence" in msg


def test_parallel_marks_on_matmul_loops():
    scop = matmul.scop()
    assert len(bands(scop.schedule)) == 3            # i, j, k as written
    check_schedule(scop, mark_band(scop.schedule, 0))     # i: parallel
    check_schedule(scop, mark_band(scop.schedule, 1))     # j: parallel
    msg = refused(scop, mark_band(scop.schedule, 2), "S0")    # k carries the reduction
    assert "carries the dependence" in msg
    # in one band (i, j, k): a mark above the split-off k member is refused too
    flat = flat_schedule(scop, "[N, M] -> { S0[i, j, k] -> [i, j, k] }")
    check_schedule(scop, mark_band(flat, 0, 0))
    check_schedule(scop, mark_band(flat, 0, 1))
    refused(scop, mark_band(flat, 0, 2), "S0")
    # interchanged to (k, i, j): the outer k loop carries the reduction, i is parallel
    kij = flat_schedule(scop, "[N, M] -> { S0[i, j, k] -> [k, i, j] }")
    refused(scop, mark_band(kij, 0, 0), "S0")
    check_schedule(scop, mark_band(kij, 0, 1))


def test_every_depth_of_a_parallel_mark_is_checked():
    """A mark may name deeper parallel members of its band, which take the pragma where
    the first is a single value (the partial tile at an edge): each is checked."""
    from polyk.schedule.schedule import parallel_mark, parallel_mark_depths
    assert parallel_mark_depths(parallel_mark(0, (1,))) == [0, 1]
    scop = matmul.scop()
    flat = flat_schedule(scop, "[N, M] -> { S0[i, j, k] -> [i, j, k] }")
    band = bands(flat)[0]
    check_schedule(scop, band.insert_mark(isl.Id(parallel_mark(0, (1,)))).get_schedule())
    msg = refused(scop, band.insert_mark(isl.Id(parallel_mark(0, (2,)))).get_schedule(),
                  "S0")
    assert "carries the dependence" in msg


def test_parallel_mark_on_a_skewed_diagonal_loop():
    scop = diagonal.scop()
    # (i, j): j is parallel inside i (the dependence is carried by i)
    check_schedule(scop, mark_band(flat_schedule(scop, "[N, M] -> { S0[i, j] -> [i, j] }"),
                                   0, 1))
    refused(scop, mark_band(flat_schedule(scop, "[N, M] -> { S0[i, j] -> [i, j] }"), 0, 0),
            "S0")
    # (i + j, i): the dependence has distance 0 along i + j: the outer loop is parallel
    check_schedule(scop, mark_band(
        flat_schedule(scop, "[N, M] -> { S0[i, j] -> [i + j, i] }"), 0, 0))


def test_parallel_mark_not_above_a_loop_is_refused():
    scop = producer_consumer.scop()
    tree = flat_schedule(scop, "[N] -> { S0[i] -> [0, i]; S1[i] -> [1, i] }")
    leaf = bands(tree)[0].child(0)
    bad = leaf.insert_mark(isl.Id(PARALLEL_MARK)).get_schedule()
    with pytest.raises(polyk.ScheduleError, match="not above a loop"):
        check_schedule(scop, bad)


# ---------------------------------------------------------------- scalar temporaries

def test_private_scalar_interleaving_is_refused():
    scop = temp.scop()
    # distributing the two statements: every S1(i) would read t written by S0(N - 1)
    msg = refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [0, i]; S1[i] -> [1, i] }"),
                  "S0", "S1")
    assert "scalar t" in msg
    # shifting the use one iteration later: S0(i + 1) overwrites t before S1(i) reads it
    msg = refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [i, 0]; S1[i] -> [i + 1, 1] }"),
                  "S0", "S1")
    assert "scalar t" in msg
    # the use before the definition within an iteration
    refused(scop, flat_schedule(scop, "[N] -> { S0[i] -> [i, 1]; S1[i] -> [i, 0] }"),
            "S0", "S1")


def test_private_scalar_loop_may_be_reversed_or_parallel():
    """The anti/output dependences of a private scalar protect only its storage: each
    iteration writing before it reads, the loop may run backwards or in parallel."""
    scop = temp.scop()
    check_schedule(scop, flat_schedule(scop, "[N] -> { S0[i] -> [-i, 0]; S1[i] -> [-i, 1] }"))
    check_schedule(scop, mark_band(scop.schedule, 0))


def test_private_accumulator_parallel_outer_loop_accepted_inner_refused():
    scop = rowsum.scop()
    tree = scop.schedule
    assert len(bands(tree)) == 2                      # i, then j around S1
    check_schedule(scop, mark_band(tree, 0))          # s written first in every i
    msg = refused(scop, mark_band(tree, 1), "S1")     # s += ... across j
    assert "scalar s" in msg


def test_scalar_carried_to_the_next_iteration_refused():
    """Every use of ``s`` inside the loop, but every iteration reads iteration 0's."""
    scop = carried_scalar.scop()
    msg = refused(scop, mark_band(scop.schedule, 0), "S0", "S1")
    assert "scalar s carries a value across iterations" in msg


def test_scalar_only_read_in_a_parallel_loop_stays_shared():
    """A mark on the loop is accepted: ``s`` comes from before the loop and is only read
    there (shared), ``t`` is written first in every iteration (private). The OpenMP kernel
    then computes, with 8 threads, exactly what NumPy does."""
    scop = invariant_scalar.scop()
    check_schedule(scop, mark_band(scop.schedule, 0))
    k = polyk.generate(invariant_scalar, target="openmp", omp_schedule="runtime",
                       fp_contract=False)
    assert "omp parallel for" in k.source
    A = np.random.default_rng(3).uniform(-1.0, 1.0, 97)
    out = np.zeros_like(A)
    with polyk.openmp_threads(8, schedule="static,1"):
        k(A=A, out=out)
    s = A[0] * 2.0
    np.testing.assert_array_equal(out, A * s + s)


def test_scalar_flowing_across_iterations_refused():
    scop = running_sum.scop()
    (band,) = bands(scop.schedule)
    msg = refused(scop, mark_band(scop.schedule, 0), "S1")
    assert "scalar s" in msg
    # the serial loop, and the loop as written, are fine
    check_schedule(scop, scop.schedule)
    # but not reversed: the sum would run backwards (out[i] would get the suffix sum)
    refused(scop, flat_schedule(scop, "[N] -> { S0[] -> [0, 0, 0]; S1[i] -> [1, -i, 0]; "
                                      "S2[i] -> [1, -i, 1] }"), "S1")


# ---------------------------------------------------------------- mutated library schedules

def _array_deps(k) -> isl.UnionMap:
    out = isl.UnionMap.empty(k.scop.context.get_space())
    for array, kinds in k.dependences.per_array.items():
        if k.scop.arrays[array].shape:
            for umap in kinds.values():
                out = out.union(umap)
    return out


@pytest.mark.parametrize("name", list(LIBRARY))
def test_reversing_a_carrying_loop_of_a_library_schedule_is_refused(name):
    """Plant an illegal schedule in every library kernel: in Pluto's schedule, negate each
    band member that carries an array dependence (a pair equal in every outer dimension
    and in the earlier members, at a positive distance along this one). The checker must
    refuse every such mutant and name a statement and its line."""
    k = polyk.generate(LIBRARY[name].op, compile=False)
    deps = _array_deps(k)
    zero = isl.UnionSet("{ [0] }")
    mutants = 0
    for b in range(len(bands(k.schedule.tree))):
        node = bands(k.schedule.tree)[b]
        dom = node.get_domain()
        prefix = node.get_prefix_schedule_union_map()
        inside = deps.intersect_domain(dom).intersect_range(dom).intersect(
            prefix.apply_range(prefix.reverse()))
        mupa = node.band_get_partial_schedule()
        for j in range(node.band_n_member()):
            member = isl.UnionMap.from_union_pw_aff(mupa.get_at(j))
            carried = inside.apply_domain(member).apply_range(member).deltas()
            inside = inside.intersect(member.apply_range(member.reverse()))
            if carried.is_subset(zero):
                continue
            flipped = mupa.set_at(j, mupa.get_at(j).neg())
            mutant = node.delete().insert_partial_schedule(flipped).get_schedule()
            with pytest.raises(polyk.ScheduleError, match=r"S\d+ \(line \d+\)"):
                check_schedule(k.scop, mutant)
            mutants += 1
    if not mutants:
        pytest.skip("no loop of the schedule carries an array dependence (sequences order "
                    "them all)")
