"""The Pluto scheduler on known cases, structurally (no compiler): the hyperplanes it finds,
the bands they form in the isl schedule tree, the parallel members, the fusion policies'
cuts, negative coefficients where a permutable band needs them, and ``polyk.explain``.

Expected hyperplanes are those of Pluto (Bondhugula et al., PLDI 2008) and Pluto+ (Acharya
and Bondhugula, PPoPP 2015) for these textbook nests. Beside each expectation the tests
check, independently of the scheduler, that the schedule is legal (``check_schedule``) and
that every band marked permutable is permutable (no dependence between two instances under
the band has a negative distance along any member).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import islpy as isl
import pytest
import sympy

import polyk
from polyk import f64
from polyk.kernels import LIBRARY
from polyk.pipeline import schedule_scop, scop_and_dependences
from polyk.schedule import check_schedule
from polyk.schedule.pluto import pluto_schedule
from polyk.schedule.schedule import CUT_MARK, parallel_mark_depth
from polyk.scop import compute_dependences

N, M, K, T = polyk.params("N M K T")
NAMES = list(LIBRARY)
FUSIONS = ("smart", "max", "none")


# ---------------------------------------------------------------- ops of the known cases

@polyk.op
def matmul(C: f64[N, M], A: f64[N, K], B: f64[K, M]):
    for i in range(N):
        for j in range(M):
            for k in range(K):
                C[i, j] += A[i, k] * B[k, j]


@polyk.op
def jacobi_1d(A: f64[N], B: f64[N]):
    for t in range(T):
        for i in range(1, N - 1):
            B[i] = (A[i - 1] + A[i] + A[i + 1]) / 3.0
        for i in range(1, N - 1):
            A[i] = B[i]


@polyk.op
def producer_consumer(A: f64[N], B: f64[N], C: f64[N]):
    for i in range(N):
        B[i] = A[i] * 2.0
    for i in range(N):
        C[i] = B[i] + 1.0


@polyk.op
def normalise_cumsum(X: f64[N], B: f64[N]):
    """A prefix sum, then every element divided by the total. The prefix sum must run
    forwards (its hyperplane has a positive coefficient) and every consumer instance needs
    its last instance: no fused loop, at any shift, skew or reversal, is legal."""
    for i in range(1, N):
        X[i] += X[i - 1]
    for i in range(N):
        B[i] = X[i] / X[N - 1]


@polyk.op
def backward_recurrence(x: f64[N], b: f64[N]):
    """A backward loop (as in back substitution): only the reversed hyperplane -i is legal."""
    for i in reversed(range(N - 1)):
        x[i] = 0.5 * x[i + 1] + b[i]


@polyk.op
def backward_sweeps(A: f64[N]):
    """T in-place backward sweeps. Dependences (t, i): (0, -1) within a sweep, (1, 0) and
    (1, 1) between sweeps. A second hyperplane c independent of t needs c_i <= 0 (first) and
    c_t + c_i >= 0 (third): a permutable band exists only with a negative coefficient, the
    backward skew (t, t - i)."""
    for t in range(T):
        for i in reversed(range(N - 1)):
            A[i] = 0.5 * (A[i] + A[i + 1])


# ---------------------------------------------------------------- helpers

def gen(op, **kw):
    """Pluto's schedule tree as found: no tiling, no intra-tile reordering of bands, no simd
    marks (which split the innermost member off its band)."""
    return polyk.generate(op, compile=False, **{"tile": False, "intratile": False,
                                                 "simd": False, **kw})


def loop_rows(res):
    return [r for r in res.rows if r.kind == "loop"]


def hyperplanes(res, stmt) -> list[tuple[tuple[int, ...], int]]:
    """(coefficients, constant) of ``stmt`` in each loop row, outermost first."""
    return [(tuple(r.coeffs[stmt]), r.consts[stmt]) for r in loop_rows(res)]


def nodes(tree: isl.Schedule, kind) -> list[isl.ScheduleNode]:
    out = []

    def visit(node):
        if node.get_type() == kind:
            out.append(node.copy())       # the callback's node is only borrowed
        return True

    tree.get_root().foreach_descendant_top_down(visit)
    return out


def bands(tree: isl.Schedule) -> list[isl.ScheduleNode]:
    return nodes(tree, isl.schedule_node_type.band)


def stmt_names(uset: isl.UnionSet) -> set[str]:
    out = []
    uset.foreach_set(lambda s: out.append(s.get_tuple_name()))
    return set(out)


def member_affs(node, j) -> dict:
    """{statement: (iterator coefficients, constant)} of member j of the band at ``node``,
    read back from the isl tree (not from Pluto's rows)."""
    out = {}

    def one(pa):
        pieces = pa.get_pieces()
        assert len(pieces) == 1, pa
        aff = pieces[0][1]
        assert aff.get_denominator_val().to_python() == 1, aff
        name = pa.get_domain_space().get_tuple_name(isl.dim_type.set)
        n = aff.dim(isl.dim_type.in_)
        coeffs = tuple(aff.get_coefficient_val(isl.dim_type.in_, k).to_python()
                       for k in range(n))
        out[name] = (coeffs, aff.get_constant_val().to_python())

    node.band_get_partial_schedule().get_at(j).foreach_pw_aff(one)
    return out


def coincident(node) -> list[bool]:
    return [bool(node.band_member_get_coincident(j)) for j in range(node.band_n_member())]


def constraining_deps(k) -> isl.UnionMap:
    """Dependences every schedule must keep: all of those on arrays, the flow (value)
    dependences of scalars (whose anti/output dependences privatisation may lift)."""
    out = isl.UnionMap.empty(k.scop.context.get_space())
    for array, kinds in k.dependences.per_array.items():
        scalar = not k.scop.arrays[array].shape
        for kind, umap in kinds.items():
            if not scalar or kind == "flow":
                out = out.union(umap)
    return out


def assert_bands_permutable(k, deps=None) -> None:
    """Every band the tree marks permutable is: under equal outer schedule, every
    dependence has a non-negative distance along every member."""
    deps = constraining_deps(k) if deps is None else deps
    nonneg = isl.UnionSet("{ [x] : x >= 0 }")
    for node in bands(k.schedule.tree):
        if not node.band_get_permutable():
            continue
        dom = node.get_domain()
        prefix = node.get_prefix_schedule_union_map()
        inside = deps.intersect_domain(dom).intersect_range(dom).intersect(
            prefix.apply_range(prefix.reverse()))
        for j in range(node.band_n_member()):
            m = isl.UnionMap.from_union_pw_aff(node.band_get_partial_schedule().get_at(j))
            dist = inside.apply_domain(m).apply_range(m).deltas()
            assert dist.is_subset(nonneg), (
                f"{k.scop.name}: member {j} of a permutable band has a negative distance "
                f"{dist.subtract(nonneg)}\n{k.schedule}")


def flat_schedule(scop, text: str) -> isl.Schedule:
    """A one-band schedule tree from a flat map ``{ S[i] -> [..]; ... }``."""
    mupa = isl.MultiUnionPwAff.from_union_map(isl.UnionMap(text))
    return isl.Schedule.from_domain(scop.domain()).insert_partial_schedule(mupa)


def pluto(op, fuse="smart"):
    scop = op.scop()
    return scop, pluto_schedule(scop, compute_dependences(scop), fuse=fuse)


# ---------------------------------------------------------------- matrix product

def test_matrix_product_one_permutable_band_two_parallel_members():
    """Pluto's band as found: (i, j, k), i and j parallel."""
    k = gen(matmul)
    res = k.schedule.pluto
    assert res is not None and k.schedule.scheduler == "pluto"
    assert [r.kind for r in res.rows] == ["loop"] * 3
    assert len({r.band for r in res.rows}) == 1
    assert hyperplanes(res, "S0") == [((1, 0, 0), 0), ((0, 1, 0), 0), ((0, 0, 1), 0)]

    (band,) = bands(k.schedule.tree)
    assert band.band_n_member() == 3
    assert band.band_get_permutable()
    assert coincident(band) == [True, True, False]
    assert [member_affs(band, j)["S0"] for j in range(3)] == \
        [((1, 0, 0), 0), ((0, 1, 0), 0), ((0, 0, 1), 0)]
    assert_bands_permutable(k)


def test_matrix_product_default_options_keep_one_band_two_parallel_members():
    """Whatever order the intra-tile pass picks, the band stays one permutable band of
    Pluto's three hyperplanes, two of them (i and j) parallel, and i stays outermost
    (simd=False: a simd mark would split the innermost member off the band)."""
    k = polyk.generate(matmul, simd=False, compile=False)
    assert hyperplanes(k.schedule.pluto, "S0") == \
        [((1, 0, 0), 0), ((0, 1, 0), 0), ((0, 0, 1), 0)]
    (band,) = bands(k.schedule.tree)
    assert band.band_n_member() == 3 and band.band_get_permutable()
    members = [member_affs(band, j)["S0"][0] for j in range(3)]
    assert sorted(members) == [(0, 0, 1), (0, 1, 0), (1, 0, 0)]
    assert {m for m, par in zip(members, coincident(band)) if par} == {(1, 0, 0), (0, 1, 0)}
    assert members[0] == (1, 0, 0)
    assert_bands_permutable(k)


def test_matrix_product_openmp_marks_outermost_parallel_loop_only():
    k = gen(matmul, target="openmp")
    marks = [n for n in nodes(k.schedule.tree, isl.schedule_node_type.mark)
             if parallel_mark_depth(n.mark_get_id().get_name()) is not None]
    assert len(marks) == 1
    below = marks[0].child(0)
    assert below.get_type() == isl.schedule_node_type.band
    assert member_affs(below, 0)["S0"] == ((1, 0, 0), 0)
    assert k.source.count("#pragma omp parallel for") == 1
    check_schedule(k.scop, k.schedule)


def test_gemm_update_is_a_three_deep_band_with_two_parallel_members():
    """gemm's update statement S1[i, k, j] gets (i, j, k): k moves innermost."""
    k = gen(LIBRARY["gemm"].op)
    res = k.schedule.pluto
    assert [h for h, _ in hyperplanes(res, "S1")] == [(1, 0, 0), (0, 0, 1), (0, 1, 0)]
    (b1,) = [b for b in bands(k.schedule.tree) if stmt_names(b.get_domain()) == {"S1"}]
    assert b1.band_n_member() == 3 and b1.band_get_permutable()
    assert coincident(b1) == [True, True, False]
    assert_bands_permutable(k)


# ---------------------------------------------------------------- time-skewed stencils

def test_jacobi_1d_time_skewed_band_with_shift():
    k = gen(jacobi_1d)
    res = k.schedule.pluto
    loops = loop_rows(res)
    assert len(loops) == 2 and len({r.band for r in loops}) == 1
    assert hyperplanes(res, "S0") == [((1, 0), 0), ((2, 1), 0)]
    assert hyperplanes(res, "S1") == [((1, 0), 0), ((2, 1), 1)]   # shifted by one
    band = bands(k.schedule.tree)[0]
    # the band is outermost and holds both statements (fused, not distributed)
    assert band.get_tree_depth() == 1
    assert stmt_names(band.get_domain()) == {"S0", "S1"}
    assert band.band_n_member() == 2 and band.band_get_permutable()
    assert coincident(band) == [False, False]     # parallelism needs a wavefront
    assert member_affs(band, 1) == {"S0": ((2, 1), 0), "S1": ((2, 1), 1)}
    assert_bands_permutable(k)
    # the lower-level entry point finds the same rows
    _, direct = pluto(jacobi_1d)
    assert [(r.kind, r.coeffs, r.consts) for r in direct.rows] == \
        [(r.kind, r.coeffs, r.consts) for r in res.rows]


def _library_op(name):
    return pytest.param(name, marks=pytest.mark.skipif(
        name not in LIBRARY, reason=f"{name} is not in the library"))


@pytest.mark.parametrize("name", [_library_op(n) for n in ("jacobi-1d", "jacobi-2d",
                                                           "heat-3d")])
def test_jacobi_stencils_hyperplanes_t_2t_plus_each_space_dim(name):
    """Two statements per time step (A -> B, B -> A): one permutable band
    (t, 2t + i, 2t + j, ...) for both, the second statement shifted by one along every
    space hyperplane; the outer members are not parallel (that takes a wavefront)."""
    k = gen(LIBRARY[name].op)
    res = k.schedule.pluto
    loops = loop_rows(res)
    depth = len(k.scop.statement("S0").iterators)
    assert len(loops) == depth and len({r.band for r in loops}) == 1
    want = [tuple(int(c == 0) for c in range(depth))]
    want += [tuple(2 if c == 0 else int(c == d) for c in range(depth))
             for d in range(1, depth)]
    assert [h for h, _ in hyperplanes(res, "S0")] == want
    assert [h for h, _ in hyperplanes(res, "S1")] == want
    shift = [c1 - c0 for (_, c0), (_, c1) in zip(hyperplanes(res, "S0"),
                                                  hyperplanes(res, "S1"))]
    assert shift == [0] + [1] * (depth - 1)
    band = bands(k.schedule.tree)[0]
    assert band.get_tree_depth() == 1
    assert stmt_names(band.get_domain()) == {"S0", "S1"}
    assert band.band_n_member() == depth and band.band_get_permutable()
    assert coincident(band)[:2] == [False, False]
    assert_bands_permutable(k)


def test_seidel_2d_hyperplanes_t_t_plus_i_2t_plus_i_plus_j():
    k = gen(LIBRARY["seidel-2d"].op)
    res = k.schedule.pluto
    assert hyperplanes(res, "S0") == [((1, 0, 0), 0), ((1, 1, 0), 0), ((2, 1, 1), 0)]
    assert len({r.band for r in loop_rows(res)}) == 1
    (band,) = bands(k.schedule.tree)
    assert band.band_n_member() == 3 and band.band_get_permutable()
    assert not any(coincident(band))
    assert_bands_permutable(k)


@pytest.mark.parametrize("name", ["jacobi-2d", "seidel-2d"])
def test_wavefront_gives_an_inner_parallel_loop(name):
    """Pipelined parallelism: the outermost band without a parallel member is skewed
    (first member += second), after which the second member is parallel."""
    k = gen(LIBRARY[name].op, wavefront=True)
    assert "outermost band skewed into a wavefront" in k.schedule.notes
    band = bands(k.schedule.tree)[0]
    plain = bands(gen(LIBRARY[name].op).schedule.tree)[0]
    first, second = member_affs(plain, 0), member_affs(plain, 1)
    want = {s: (tuple(a + b for a, b in zip(first[s][0], second[s][0])),
                first[s][1] + second[s][1]) for s in first}
    assert member_affs(band, 0) == want
    assert member_affs(band, 1) == second
    assert band.band_get_permutable()
    assert coincident(band)[:2] == [False, True]
    assert_bands_permutable(k)
    # OpenMP: the mark above the (unsplit) band names the depth of its second member, and
    # that loop gets the pragma
    k = gen(LIBRARY[name].op, target="openmp", wavefront=True)
    marks = [n for n in nodes(k.schedule.tree, isl.schedule_node_type.mark)
             if parallel_mark_depth(n.mark_get_id().get_name()) is not None]
    assert len(marks) == 1
    under = marks[0].child(0)
    assert parallel_mark_depth(marks[0].mark_get_id().get_name()) == \
        under.get_schedule_depth() + 1
    assert member_affs(under, 1) == second
    assert k.source.count("#pragma omp parallel for") == 1
    check_schedule(k.scop, k.schedule)


# ---------------------------------------------------------------- fusion and distribution

def test_producer_consumer_max_fuses():
    k = gen(producer_consumer, fuse="max")
    res = k.schedule.pluto
    assert res.rows[0].kind == "loop"
    assert res.rows[0].coeffs == {"S0": (1,), "S1": (1,)}
    outer = k.schedule.tree.get_root().child(0)
    assert outer.get_type() == isl.schedule_node_type.band
    assert stmt_names(outer.get_domain()) == {"S0", "S1"}
    assert coincident(outer) == [True]
    assert k.source.count("for (") == 1
    check_schedule(k.scop, k.schedule)


def test_producer_consumer_none_distributes():
    k = gen(producer_consumer, fuse="none")
    res = k.schedule.pluto
    assert res.rows[0].kind == "scalar"
    assert res.rows[0].consts == {"S0": 0, "S1": 1}
    assert "fuse='none'" in res.rows[0].reason
    mark = k.schedule.tree.get_root().child(0)
    assert mark.get_type() == isl.schedule_node_type.mark
    assert mark.mark_get_id().get_name().startswith(CUT_MARK)
    seq = mark.child(0)
    assert seq.get_type() == isl.schedule_node_type.sequence
    assert [stmt_names(seq.child(j).filter_get_filter()) for j in range(2)] == \
        [{"S0"}, {"S1"}]
    assert all(stmt_names(b.get_domain()) in ({"S0"}, {"S1"})
               for b in bands(k.schedule.tree))
    assert k.source.count("for (") == 2
    check_schedule(k.scop, k.schedule)


@polyk.op
def two_streams(A: f64[N, M], s: f64[M], q: f64[N], p: f64[M], r: f64[N]):
    """bicg's two products: s = A^T r (its reduction carried by i) and q = A p (carried by
    j). No dependence joins the two statements; both read A[i, j] once."""
    for i in range(N):
        for j in range(M):
            s[j] += r[i] * A[i, j]
            q[i] += A[i, j] * p[j]


@polyk.op
def matrix_and_transpose(A: f64[N, N], x1: f64[N], x2: f64[N], y1: f64[N], y2: f64[N]):
    """mvt: x1 = A y1 reads A by rows, x2 = A^T y2 by columns, in two nests."""
    for i in range(N):
        for j in range(N):
            x1[i] += A[i, j] * y1[j]
    for i in range(N):
        for j in range(N):
            x2[i] += A[j, i] * y2[j]


def test_one_to_one_reads_are_found_and_vectors_are_not():
    from polyk.schedule.pluto import one_to_one_reads
    found = one_to_one_reads(two_streams.scop())
    assert [(s, t) for s, t, _ in found] == [("S0", "S1")]      # A; the vectors: one each
    rel = found[0][2]
    assert rel.is_equal(isl.Map("[N, M] -> { S0[i, j] -> S1[i, j] : 0 <= i < N and "
                                "0 <= j < M }").intersect_params(rel.params()))
    # mvt's A by rows and by columns: the transpose pairs them
    (s, t, rel), = one_to_one_reads(matrix_and_transpose.scop())
    assert rel.is_equal(isl.Map("[N] -> { S0[i, j] -> S1[j, i] : 0 <= i < N and "
                                "0 <= j < N }").intersect_params(rel.params()))
    # gesummv: x[j] is read by both products for every i (many-to-many), A and B by one
    # statement each, tmp[i] and y[i] once per i by one side and per (i, j) by the other
    assert one_to_one_reads(LIBRARY["gesummv"].op.scop()) == []


def test_rar_fuses_two_streams_of_one_matrix_with_matching_loops():
    """Without read-after-read pairs the two independent statements are scheduled apart in
    one band, s by (j, i) (A by columns) and q by (i, j); with them both get (i, j), one
    pass over A, and the band (i, j) carries both reductions (a wavefront when tiled)."""
    apart = gen(two_streams, rar=False).schedule.pluto
    assert [h for h, _ in hyperplanes(apart, "S0")] != \
        [h for h, _ in hyperplanes(apart, "S1")]
    k = gen(two_streams)
    res = k.schedule.pluto
    assert [h for h, _ in hyperplanes(res, "S0")] == [(1, 0), (0, 1)]
    assert [h for h, _ in hyperplanes(res, "S1")] == [(1, 0), (0, 1)]
    check_schedule(k.scop, k.schedule)


def test_rar_aligns_a_matrix_read_by_rows_with_its_transpose():
    k = gen(matrix_and_transpose)
    res = k.schedule.pluto
    assert [h for h, _ in hyperplanes(res, "S0")] == [(1, 0), (0, 1)]
    assert [h for h, _ in hyperplanes(res, "S1")] == [(0, 1), (1, 0)]   # S1's (j, i)
    check_schedule(k.scop, k.schedule)
    x = gen(matrix_and_transpose, rar=False).schedule.pluto
    assert [h for h, _ in hyperplanes(x, "S1")] == [(1, 0), (0, 1)]


def test_rar_changes_no_dependence_and_is_validated():
    with pytest.raises(polyk.OptionsError, match="rar must be True or False"):
        polyk.generate(two_streams, rar="yes", compile=False)


def _inner_bands(k, stmt) -> list:
    """The band nodes below the outermost one whose domain holds ``stmt``."""
    return [b for b in bands(k.schedule.tree)[1:] if stmt in stmt_names(b.get_domain())]


def test_smart_fusion_distributes_adi_sweeps_for_parallel_loops():
    """adi's column and row sweeps fuse under t only as -i and i: dependences between them
    span a distance that grows with N, so the fused loop is sequential and buys no reuse.
    Smart fusion distributes them and each sweep's i loop is parallel;
    max fusion keeps the fused sequential loop."""
    recurrences = ("S16", "S17", "S19", "S23", "S24", "S26")     # the j recurrences
    k = gen(LIBRARY["adi"].op)
    # the sweeps' recurrences end up apart: cut because the fused loop's reuse distance
    # grows with N, or (when the sweeps, a component of their own, find no hyperplane
    # while the band of t lasts) because they have no common one
    assert any(n.startswith("cut (") and "| {S16} |" in n and "| {S23} |" in n
               for n in k.schedule.notes), k.schedule.notes
    for s in recurrences:
        inner = _inner_bands(k, s)
        assert inner, s
        assert member_affs(inner[0], 0)[s][0] == (0, 1, 0), s       # i, below t
        assert coincident(inner[0])[0], f"{s}: i loop not parallel\n{k.schedule}"
    check_schedule(k.scop, k.schedule)
    assert_bands_permutable(k)
    fused = gen(LIBRARY["adi"].op, fuse="max").schedule.pluto
    assert hyperplanes(fused, "S16")[1][0] == (0, -1, 0)
    assert hyperplanes(fused, "S23")[1][0] == (0, 1, 0)


@polyk.op
def forward_forward_backward(A: f64[N, N], B: f64[N, N], C: f64[N, N]):
    """Three recurrences along j under a parallel i: two forward, the last backward, so
    the three have no common hyperplane but the first two share j."""
    for i in range(N):
        for j in range(1, N):
            A[i, j] = 0.5 * A[i, j - 1] + C[i, j]
        for j in range(1, N):
            B[i, j] = 0.5 * B[i, j - 1] + A[i, j]
        for j in reversed(range(N - 1)):
            C[i, j] = 0.5 * C[i, j + 1] + B[i, j]


def test_smart_fusion_joins_innermost_recurrences_and_keeps_tiled_bands():
    """Where the SCCs have no common hyperplane, smart fusion keeps consecutive ones that
    share their innermost loop together (the two forward recurrences: one j loop) instead
    of distributing all three. gramschmidt's R = Q^T A (S5) and A -= Q R (S6) could share
    j too, but only at the cost of each nest's two-deep band, so they stay apart."""
    k = gen(forward_forward_backward)
    res = k.schedule.pluto
    assert [h for h, _ in hyperplanes(res, "S0")] == [(1, 0), (0, 1)]
    assert [h for h, _ in hyperplanes(res, "S1")] == [(1, 0), (0, 1)]
    assert [h for h, _ in hyperplanes(res, "S2")] == [(1, 0), (0, -1)]
    cut = next(r for r in res.rows if r.kind == "scalar")
    assert cut.consts["S0"] == cut.consts["S1"] != cut.consts["S2"]
    assert "innermost loops share one" in cut.reason
    (shared,) = [b for b in _inner_bands(k, "S0") if "S1" in stmt_names(b.get_domain())]
    assert member_affs(shared, 0) == {"S0": ((0, 1), 0), "S1": ((0, 1), 0)}
    check_schedule(k.scop, k.schedule)
    apart = gen(forward_forward_backward, fuse="none").schedule.pluto
    assert any(r.consts["S0"] != r.consts["S1"] for r in apart.rows if r.kind == "scalar")
    g = gen(LIBRARY["gramschmidt"].op)
    for s in ("S5", "S6"):
        (band,) = [b for b in _inner_bands(g, s) if b.band_n_member() == 2]
        assert stmt_names(band.get_domain()) == {s}
        assert band.band_get_permutable()
    check_schedule(g.scop, g.schedule)
    assert_bands_permutable(g)


def test_distribution_needed_for_legality():
    """No fused loop is legal for ``normalise_cumsum``; Pluto cuts before any hyperplane,
    even with fuse="max", and the result is legal."""
    scop = normalise_cumsum.scop()
    # first, that the nest really needs the cut: no fused loop (hyperplanes a*i for S0,
    # c*i + d for S1, S0 first at equal times) passes the independent checker
    for a in (-2, -1, 1, 2):
        for c in (-2, -1, 1, 2):
            for d in range(-3, 4):
                fused = flat_schedule(scop, f"[N] -> {{ S0[i] -> [{a}*i, 0]; "
                                            f"S1[i] -> [{c}*i + {d}, 1] }}")
                with pytest.raises(polyk.ScheduleError):
                    check_schedule(scop, fused)
    for fuse in ("max", "smart"):
        k = gen(normalise_cumsum, fuse=fuse)
        res = k.schedule.pluto
        first = res.rows[0]
        assert first.kind == "scalar", res.rows
        assert first.consts == {"S0": 0, "S1": 1}
        assert "no common hyperplane" in first.reason
        assert hyperplanes(res, "S0")[0][0] == (1,)     # the prefix sum runs forwards
        assert any("no common hyperplane" in n for n in k.schedule.notes)
        check_schedule(k.scop, k.schedule)
        assert_bands_permutable(k)
        assert k.source.count("for (") == 2


# ---------------------------------------------------------------- negative coefficients

def test_backward_loop_gets_the_reversed_hyperplane():
    k = gen(backward_recurrence)
    assert hyperplanes(k.schedule.pluto, "S0") == [((-1,), 0)]
    check_schedule(k.scop, k.schedule)
    with pytest.raises(polyk.ScheduleError, match="S0"):
        check_schedule(k.scop, flat_schedule(k.scop, "[N] -> { S0[i] -> [i] }"))


def test_permutable_band_needs_a_negative_coefficient():
    k = gen(backward_sweeps)
    res = k.schedule.pluto
    hyp = hyperplanes(res, "S0")
    assert len(hyp) == 2 and len({r.band for r in loop_rows(res)}) == 1
    assert hyp[0] == ((1, 0), 0)
    assert any(c < 0 for c in hyp[1][0]), hyp
    assert hyp[1] == ((1, -1), 0)                    # the backward skew t - i
    (band,) = bands(k.schedule.tree)
    assert band.band_n_member() == 2 and band.band_get_permutable()
    assert member_affs(band, 1)["S0"] == ((1, -1), 0)
    check_schedule(k.scop, k.schedule)
    check_schedule(k.scop, k.schedule.tree)
    assert_bands_permutable(k)

    # and it was needed: the order as written, (t, -i), is legal but not permutable;
    # the non-negative candidates are illegal
    deps = constraining_deps(k)
    nonneg = isl.UnionSet("{ [x] : x >= 0 }")
    written = isl.UnionMap("[N, T] -> { S0[t, i] -> [-i] }")
    assert not deps.apply_domain(written).apply_range(written).deltas().is_subset(nonneg)
    for second in ("i", "t + i", "2t + i"):
        with pytest.raises(polyk.ScheduleError, match="reverses the dependence"):
            check_schedule(k.scop, flat_schedule(
                k.scop, f"[N, T] -> {{ S0[t, i] -> [t, {second}] }}"))


# ---------------------------------------------------------------- every library kernel
#
# The SCoP and its dependences are computed once per kernel; each scheduler/fusion runs the
# pipeline's scheduling stage on them (with OpenMP marks) and the independent checker.
# Pluto's time is recorded for every kernel with the default fusion policy (smart); the
# other policies run with ``pytest -m slow`` or POLYK_SLOW=1 (CI time).

_SCOPS: dict = {}


def scop_and_deps(name):
    """The SCoP generate schedules: scalar accumulators kept in their arrays (homing)."""
    if name not in _SCOPS:
        scop, deps, _ = scop_and_dependences(LIBRARY[name].op, polyk.Options())
        _SCOPS[name] = (scop, deps)
    return _SCOPS[name]


def schedule_library_kernel(name, scheduler, fuse):
    """What generate(target="openmp") schedules and checks, without printing code."""
    scop, deps = scop_and_deps(name)
    schedule = schedule_scop(scop, deps, polyk.Options(target="openmp", scheduler=scheduler,
                                                       fuse=fuse))
    check_schedule(scop, schedule)                # the parallel marks included
    return SimpleNamespace(scop=scop, dependences=deps, schedule=schedule)


@pytest.mark.parametrize("fuse", FUSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_isl_scheduler_legal_for_library_kernel(name, fuse):
    k = schedule_library_kernel(name, "isl", fuse)
    assert k.schedule.scheduler == "isl" and k.schedule.pluto is None
    assert_bands_permutable(k)


PLUTO_CASES = [pytest.param(name, fuse, id=f"{name}-{fuse}",
                            marks=() if fuse == "smart" else (pytest.mark.slow,))
               for name in NAMES for fuse in FUSIONS]


@pytest.mark.parametrize("name,fuse", PLUTO_CASES)
def test_pluto_on_library_kernel(name, fuse, record_property):
    """Pluto's schedule is legal (with its OpenMP marks), every band is permutable, every
    statement's hyperplanes have full rank. Its time is recorded, not asserted (see
    --junitxml, or the captured output with -rP)."""
    k = schedule_library_kernel(name, "pluto", fuse)
    res = k.schedule.pluto
    record_property("pluto_seconds", round(res.seconds, 3))
    print(f"pluto {name} fuse={fuse}: {res.seconds:.3f} s, {len(res.rows)} rows, "
          f"{len(res.deps)} dependence pieces")
    for s in k.scop.statements:
        rows = [h for h, _ in hyperplanes(res, s.name)]
        if s.iterators:
            assert sympy.Matrix(rows).rank() == len(s.iterators), (name, fuse, s.name, rows)
    assert_bands_permutable(k)


# ---------------------------------------------------------------- explain

def test_explain_gemm_smart_fusion():
    k = gen(LIBRARY["gemm"].op, target="openmp", fuse="smart")
    text = str(polyk.explain(k))
    assert "scheduler pluto, fuse smart" in text
    assert "band" in text and "permutable" in text
    assert "parallel" in text and "sequential" in text
    assert "carries" in text and "flow S1->S1 on C" in text
    assert "distributed: smart fusion: SCCs of different depth" in text
    assert "S1: k" in text and "S0: j" in text
    assert "omp parallel for" in text


def test_explain_says_why_a_nest_was_distributed():
    text = str(polyk.explain(gen(normalise_cumsum, fuse="max")))
    assert "distributed: no common hyperplane" in text
    text = str(polyk.explain(gen(producer_consumer, fuse="none")))
    assert "distributed: fuse='none'" in text


@polyk.op
def lu_then_back_substitution(A: f64[N, N], x: f64[N]):
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] = A[i, j] / A[j, j]
        for j in range(i, N):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]
    for i in range(N - 1, -1, -1):
        for j in range(i + 1, N):
            x[i] -= A[i, j] * x[j]
        x[i] = x[i] / A[i, i]


def test_a_component_without_hyperplane_is_cut_alone():
    """The back substitution (its own component of the dependence graph) has no second
    hyperplane while its first band lasts: only its SCCs are distributed, and the
    factorisation keeps one three-deep permutable band, as lu alone has."""
    k = gen(lu_then_back_substitution)
    assert any("distribute the SCCs of the component without one" in n
               for n in k.schedule.notes), k.schedule.notes
    lu_bands = [b for b in bands(k.schedule.tree)
                if stmt_names(b.get_domain()) >= {"S0", "S1", "S2"}]
    assert [b.band_n_member() for b in lu_bands] == [3], k.schedule
    assert_bands_permutable(k)
