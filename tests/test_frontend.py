"""The Python front end: iteration domains, access relations, the original schedule, the
dependences computed from them, and type inference, each against expected isl objects or
an executable meaning."""

from __future__ import annotations

import math
import re

import islpy as isl
import numpy as np
import pytest

import polyk
from polyk import f32, f64, i32
from polyk.scop import compute_dependences

N, M, K = polyk.params("N M K")


# ---------------------------------------------------------------- helpers

def expect_set(got: isl.Set, text: str, scop) -> None:
    want = isl.Set(text).intersect_params(scop.context)
    assert got.is_equal(want), f"\n got  {got}\n want {want}"


def expect_map(got: isl.Map, text: str, scop) -> None:
    want = isl.Map(text).intersect_params(scop.context)
    assert got.is_equal(want), f"\n got  {got}\n want {want}"


def access(stmt, kind: str, array: str) -> isl.Map:
    """The union of ``stmt``'s ``kind`` accesses to ``array`` (as one map)."""
    maps = [a.relation for a in stmt.accesses if a.kind == kind and a.array == array]
    assert maps, f"{stmt.name} has no {kind} of {array}"
    out = maps[0]
    for m in maps[1:]:
        out = out.union(m)
    return out


def fix_params(obj, scop, values: dict):
    for k, name in enumerate(scop.params):
        obj = obj.fix_val(isl.dim_type.param, k, isl.Val(int(values[name])))
    return obj


def points(s: isl.Set) -> list[tuple[int, ...]]:
    out = []
    n = s.dim(isl.dim_type.set)
    s.foreach_point(lambda p: out.append(
        tuple(p.get_coordinate_val(isl.dim_type.set, k).to_python() for k in range(n))))
    return sorted(out)


def instances(scop, stmt: str, values: dict) -> list[tuple[int, ...]]:
    return points(fix_params(scop.statement(stmt).domain, scop, values))


def execution_order(scop, values: dict) -> list[tuple]:
    """Every statement instance at the given parameter values, sorted by the original
    schedule (``scop.schedule_map()``): the order the loop nest runs them in."""
    smap = scop.schedule_map()
    keyed = []
    for st in scop.statements:
        for pt in instances(scop, st.name, values):
            args = ", ".join(map(str, pt))
            params = " and ".join(f"{p} = {values[p]}" for p in scop.params)
            decl = f"[{', '.join(scop.params)}] -> " if scop.params else ""
            one = isl.UnionSet(f"{decl}{{ {st.name}[{args}] : {params or '0 = 0'} }}")
            img = smap.intersect_domain(one).range()
            times = []
            img.foreach_point(lambda p: times.append(p))
            assert len(times) == 1, (st.name, pt, img)
            p = times[0]
            n = p.get_space().dim(isl.dim_type.set)
            t = tuple(p.get_coordinate_val(isl.dim_type.set, k).to_python() for k in range(n))
            keyed.append((t, (st.name,) + pt))
    times = [t for t, _ in keyed]
    assert len(set(times)) == len(times), "two instances share a schedule time"
    return [inst for _, inst in sorted(keyed)]


def traced(fn_body, values: dict) -> list[tuple]:
    """The expected order, from a hand-written Python trace."""
    out = []
    fn_body(values, lambda *inst: out.append(inst))
    return out


# ---------------------------------------------------------------- domains and accesses

def test_triangular_nest_domain_and_accesses():
    @polyk.op
    def tri(a: f64, A: f64[N, M], x: f64[M]):
        for i in range(N):
            for j in range(i, M):
                A[i, j] += a * x[j]

    scop = tri.scop()
    assert [s.name for s in scop.statements] == ["S0"]
    s0 = scop.statements[0]
    assert s0.iterators == ("i", "j")
    expect_set(s0.domain, "[N, M] -> { S0[i, j] : 0 <= i < N and i <= j < M }", scop)
    dom = "0 <= i < N and i <= j < M"
    expect_map(access(s0, "write", "A"), f"[N, M] -> {{ S0[i, j] -> A[i, j] : {dom} }}", scop)
    expect_map(access(s0, "read", "A"), f"[N, M] -> {{ S0[i, j] -> A[i, j] : {dom} }}", scop)
    expect_map(access(s0, "read", "x"), f"[N, M] -> {{ S0[i, j] -> x[j] : {dom} }}", scop)
    # the scalar argument a is only read: passed by value, no access relation
    assert {a.array for a in s0.accesses} == {"A", "x"}
    expect_set(scop.context, "[N, M] -> { : N >= 1 and M >= 1 }", scop)
    assert scop.writes().is_equal(isl.UnionMap.from_map(access(s0, "write", "A")))


def test_imperfect_nest_statements_at_different_depths():
    @polyk.op
    def gemm(beta: f64, C: f64[N, M], A: f64[N, K], B: f64[K, M]):
        for i in range(N):
            for j in range(M):
                C[i, j] *= beta
            for k in range(K):
                for j in range(M):
                    C[i, j] += A[i, k] * B[k, j]

    scop = gemm.scop()
    s0, s1 = scop.statements
    assert s0.iterators == ("i", "j") and s1.iterators == ("i", "k", "j")
    expect_set(s0.domain, "[N, M, K] -> { S0[i, j] : 0 <= i < N and 0 <= j < M }", scop)
    expect_set(s1.domain,
               "[N, M, K] -> { S1[i, k, j] : 0 <= i < N and 0 <= k < K and 0 <= j < M }", scop)
    expect_map(access(s1, "read", "B"),
               "[N, M, K] -> { S1[i, k, j] -> B[k, j] : 0 <= i < N and 0 <= k < K and "
               "0 <= j < M }", scop)
    expect_map(access(s1, "read", "A"),
               "[N, M, K] -> { S1[i, k, j] -> A[i, k] : 0 <= i < N and 0 <= k < K and "
               "0 <= j < M }", scop)
    # original order: for each i, all of S0[i, *] before all of S1[i, *, *]
    vals = {"N": 2, "M": 2, "K": 2}
    order = execution_order(scop, vals)

    def trace(v, emit):
        for i in range(v["N"]):
            for j in range(v["M"]):
                emit("S0", i, j)
            for k in range(v["K"]):
                for j in range(v["M"]):
                    emit("S1", i, k, j)
    assert order == traced(trace, vals)


def test_statements_at_top_level_and_in_sequence():
    @polyk.op
    def seq(x: f64[N], y: f64[N], c: f64):
        x[0] = c
        for i in range(1, N):
            x[i] = x[i - 1] * c
        for i in range(N):
            y[i] = x[N - 1 - i]
        y[N - 1] += 1.0

    scop = seq.scop()
    s0, s1, s2, s3 = scop.statements
    assert s0.iterators == () and s3.iterators == ()
    expect_set(s0.domain, "[N] -> { S0[] }", scop)
    expect_set(s1.domain, "[N] -> { S1[i] : 1 <= i < N }", scop)
    expect_map(access(s2, "read", "x"), "[N] -> { S2[i] -> x[N - 1 - i] : 0 <= i < N }", scop)
    expect_map(access(s3, "write", "y"), "[N] -> { S3[] -> y[N - 1] }", scop)
    vals = {"N": 3}
    assert execution_order(scop, vals) == [
        ("S0",), ("S1", 1), ("S1", 2), ("S2", 0), ("S2", 1), ("S2", 2), ("S3",)]


def test_min_max_bounds():
    @polyk.op
    def band(A: f64[N, M]):
        for i in range(N):
            for j in range(max(0, i - 2), min(M, i + 3)):
                A[i, j] = 0.0
        for i in range(min(N, M)):
            A[i, max(i, 1) - 1] += 1.0

    scop = band.scop()
    s0, s1 = scop.statements
    expect_set(s0.domain, "[N, M] -> { S0[i, j] : 0 <= i < N and j >= 0 and j >= i - 2 and "
                          "j < M and j < i + 3 }", scop)
    expect_set(s1.domain, "[N, M] -> { S1[i] : 0 <= i < N and i < M }", scop)
    expect_map(access(s1, "write", "A"),
               "[N, M] -> { S1[i] -> A[i, o] : 0 <= i < N and i < M and "
               "((i >= 1 and o = i - 1) or (i = 0 and o = 0)) }", scop)


@pytest.mark.parametrize("step", [2, 3])
def test_strided_loop(step):
    src = f"""
def strided(A: f64[N]):
    for i in range(1, N, {step}):
        A[i] = A[i - 1]
"""
    op = polyk.Op.from_source(src, namespace={"f64": f64, "N": N})
    scop = op.scop()
    s0 = scop.statements[0]
    expect_set(s0.domain, f"[N] -> {{ S0[i] : 1 <= i < N and (i - 1) mod {step} = 0 }}", scop)
    expect_map(access(s0, "read", "A"),
               f"[N] -> {{ S0[i] -> A[i - 1] : 1 <= i < N and (i - 1) mod {step} = 0 }}", scop)
    for n in range(1, 12):
        assert instances(scop, "S0", {"N": n}) == [(i,) for i in range(1, n, step)]


def test_strided_loop_with_affine_start():
    @polyk.op
    def s(A: f64[N, N]):
        for i in range(N):
            for j in range(i, N, 3):
                A[i, j] = 1.0

    scop = s.scop()
    expect_set(scop.statements[0].domain,
               "[N] -> { S0[i, j] : 0 <= i <= j < N and (j - i) mod 3 = 0 }", scop)


def test_negative_step_and_reversed_range():
    @polyk.op
    def back(x: f64[N], y: f64[N]):
        for i in range(N - 1, -1, -2):
            x[i] += 1.0
        for i in reversed(range(1, N)):
            y[i] = y[i - 1]

    scop = back.scop()
    s0, s1 = scop.statements
    expect_set(s0.domain, "[N] -> { S0[i] : 0 <= i < N and (N - 1 - i) mod 2 = 0 }", scop)
    expect_set(s1.domain, "[N] -> { S1[i] : 1 <= i < N }", scop)
    for n in range(1, 9):
        assert instances(scop, "S0", {"N": n}) == sorted((i,) for i in range(n - 1, -1, -2))

    # the original schedule runs both loops by decreasing i
    order = execution_order(scop, {"N": 5})
    assert order == [("S0", 4), ("S0", 2), ("S0", 0),
                     ("S1", 4), ("S1", 3), ("S1", 2), ("S1", 1)]
    # ... which is what makes y[i] = y[i - 1] a shift (no flow dependence between its
    # instances, anti dependences from S1[i] to S1[i - 1])
    deps = compute_dependences(scop)
    assert ("S1", "S1") not in deps.by_pair("flow")
    expect_map(deps.by_pair("anti")[("S1", "S1")], "[N] -> { S1[i] -> S1[i - 1] : 2 <= i < N }",
               scop)


def test_schedule_map_lex_order_of_negative_step():
    @polyk.op
    def back(x: f64[N]):
        for i in range(N - 1, 0, -1):
            x[i - 1] += x[i]

    scop = back.scop()
    smap = scop.schedule_map()
    # S0[i] runs before S0[i'] exactly when i > i'
    dom = scop.domain()
    before = smap.lex_lt_union_map(smap).intersect_domain(dom).intersect_range(dom)
    expect = isl.UnionMap("[N] -> { S0[i] -> S0[i2] : 1 <= i2 < i < N }").intersect_params(
        scop.context)
    assert before.is_equal(expect), before
    deps = compute_dependences(scop)
    expect_map(deps.by_pair("flow")[("S0", "S0")],
               "[N] -> { S0[i] -> S0[i - 1] : 2 <= i < N }", scop)


def test_modulo_and_floor_division_subscripts():
    @polyk.op
    def md(A: f64[N], B: f64[N, 3], C: f64[N]):
        for i in range(N):
            A[i // 2] += B[i, i % 3]
            C[(N - 1 - i) // -2 + N // 2] = 1.0

    scop = md.scop()
    s0, s1 = scop.statements
    expect_map(access(s0, "write", "A"),
               "[N] -> { S0[i] -> A[floor(i / 2)] : 0 <= i < N }", scop)
    expect_map(access(s0, "read", "B"), "[N] -> { S0[i] -> B[i, i mod 3] : 0 <= i < N }",
               scop)
    # Python semantics of // by a negative divisor: floor((N-1-i) / -2) = floor((i+1-N) / 2)
    rel = access(s1, "write", "C")
    for n in range(1, 9):
        got = points(fix_params(rel, scop, {"N": n}).wrap())
        want = sorted((i, (n - 1 - i) // -2 + n // 2) for i in range(n))
        assert got == want, n


def test_if_elif_else_conditions_with_modulo():
    @polyk.op
    def cond(A: f64[N, M]):
        for i in range(N):
            for j in range(M):
                if (i + j) % 2 == 0:
                    A[i, j] = 1.0
                elif j // 3 == 1 and i != j:
                    A[i, j] = 2.0
                else:
                    A[i, j] = 3.0
                if not (i < j) or j == 0:
                    A[i, j] += 4.0
                if 0 < i <= j - 1 < min(N, 5):
                    A[i, j] *= 2.0

    scop = cond.scop()
    box = "0 <= i < N and 0 <= j < M"
    expect_set(scop.statement("S0").domain,
               f"[N, M] -> {{ S0[i, j] : {box} and (i + j) mod 2 = 0 }}", scop)
    expect_set(scop.statement("S1").domain,
               f"[N, M] -> {{ S1[i, j] : {box} and (i + j) mod 2 = 1 and 3 <= j <= 5 and "
               "i != j }", scop)
    # the else branch gets the negation of every earlier condition
    expect_set(scop.statement("S2").domain,
               f"[N, M] -> {{ S2[i, j] : {box} and (i + j) mod 2 = 1 and "
               "(j < 3 or j > 5 or i = j) }", scop)
    expect_set(scop.statement("S3").domain,
               f"[N, M] -> {{ S3[i, j] : {box} and (i >= j or j = 0) }}", scop)
    expect_set(scop.statement("S4").domain,
               f"[N, M] -> {{ S4[i, j] : {box} and 0 < i and i <= j - 1 and "
               "j - 1 < N and j - 1 < 5 }", scop)
    # the three branches partition the box
    parts = [scop.statement(s).domain.set_tuple_name("P") for s in ("S0", "S1", "S2")]
    whole = isl.Set(f"[N, M] -> {{ P[i, j] : {box} }}").intersect_params(scop.context)
    assert parts[0].union(parts[1]).union(parts[2]).is_equal(whole)
    assert parts[0].intersect(parts[1]).is_empty() and parts[1].intersect(parts[2]).is_empty()


def test_modulo_condition_on_parameters():
    @polyk.op
    def even(x: f64[N]):
        for i in range(N):
            if N % 2 == 0 and i % 4 == 3:
                x[i] = 0.0

    scop = even.scop()
    expect_set(scop.statements[0].domain,
               "[N] -> { S0[i] : 0 <= i < N and N mod 2 = 0 and i mod 4 = 3 }", scop)


def test_scalar_temporaries_are_zero_dimensional_arrays():
    @polyk.op
    def rowsum(A: f64[N, M], x: f64[N]):
        for i in range(N):
            s = 0.0
            for j in range(M):
                s += A[i, j]
            x[i] = s

    scop = rowsum.scop()
    assert scop.arrays["s"].shape == () and scop.arrays["s"].kind == "local"
    s0, s1, s2 = scop.statements
    expect_map(access(s0, "write", "s"), "[N, M] -> { S0[i] -> s[] : 0 <= i < N }", scop)
    expect_map(access(s1, "read", "s"),
               "[N, M] -> { S1[i, j] -> s[] : 0 <= i < N and 0 <= j < M }", scop)
    expect_map(access(s1, "write", "s"),
               "[N, M] -> { S1[i, j] -> s[] : 0 <= i < N and 0 <= j < M }", scop)
    expect_map(access(s2, "read", "s"), "[N, M] -> { S2[i] -> s[] : 0 <= i < N }", scop)
    deps = compute_dependences(scop)
    flow = deps.by_pair("flow")
    expect_map(flow[("S0", "S1")], "[N, M] -> { S0[i] -> S1[i, 0] : 0 <= i < N }", scop)
    expect_map(flow[("S1", "S1")],
               "[N, M] -> { S1[i, j] -> S1[i, j + 1] : 0 <= i < N and 0 <= j < M - 1 }", scop)
    expect_map(flow[("S1", "S2")], "[N, M] -> { S1[i, M - 1] -> S2[i] : 0 <= i < N }", scop)
    assert ("S0", "S2") not in flow  # M >= 1: S1 always overwrites s in between
    # the temporary is reused across rows: anti dependences S2[i] -> S0[i + 1]
    expect_map(deps.by_pair("anti")[("S2", "S0")],
               "[N, M] -> { S2[i] -> S0[i + 1] : 0 <= i < N - 1 }", scop)


def test_assigned_scalar_argument_is_an_array_of_the_scop():
    @polyk.op
    def acc(a: f64, x: f64[N]):
        for i in range(N):
            a = a * 0.5
            x[i] = a

    scop = acc.scop()
    assert scop.arrays["a"].kind == "scalar_arg" and scop.arrays["a"].shape == ()
    expect_map(access(scop.statements[0], "write", "a"), "[N] -> { S0[i] -> a[] : 0 <= i < N }",
               scop)


def test_no_parameters_constant_extents():
    @polyk.op
    def fixed(A: f64[4], c: f64):
        A[0] = c
        for i in range(1, 4):
            A[i] = A[i - 1] * c

    scop = fixed.scop()
    assert scop.params == ()
    s1 = scop.statement("S1")
    assert s1.domain.is_equal(isl.Set("{ S1[i] : 1 <= i <= 3 }"))
    assert execution_order(scop, {}) == [("S0",), ("S1", 1), ("S1", 2), ("S1", 3)]
    deps = compute_dependences(scop)
    flow = deps.by_pair("flow")
    assert flow[("S0", "S1")].is_equal(isl.Map("{ S0[] -> S1[1] }"))
    assert flow[("S1", "S1")].is_equal(isl.Map("{ S1[i] -> S1[i + 1] : 1 <= i <= 2 }"))


def test_parameter_local_to_a_function_under_future_annotations():
    """This file uses "from __future__ import annotations": annotations are strings, and a
    parameter defined in the enclosing function must still resolve."""
    L = polyk.params("L")

    @polyk.op
    def fill(x: f64[L, 2]):
        for i in range(L):
            x[i, 1] = 1.0

    scop = fill.scop()
    assert scop.params == ("L",)
    expect_set(scop.statements[0].domain, "[L] -> { S0[i] : 0 <= i < L }", scop)
    x = np.zeros((3, 2))
    fill(x)
    np.testing.assert_array_equal(x[:, 1], 1.0)


def test_sizes_and_assume_restrict_the_context():
    @polyk.op(assume="N >= 4")
    def f(x: f64[N], y: f64[M]):
        for i in range(N):
            x[i] = 0.0
        for j in range(M):
            y[j] = 1.0

    scop = f.scop(sizes={"N": 10}, assume="M >= N")
    expect_set(scop.context, "[N, M] -> { : N = 10 and M >= 10 }", scop)
    assert scop.context.is_equal(isl.Set("[N, M] -> { : N = 10 and M >= 10 }"))
    expect_set(scop.statements[0].domain, "[N, M] -> { S0[i] : 0 <= i < 10 }", scop)
    assert f.scop().context.is_equal(isl.Set("[N, M] -> { : N >= 4 and M >= 1 }"))
    with pytest.raises(polyk.OptionsError):
        f.scop(sizes={"N": 2})  # contradicts assume="N >= 4"
    with pytest.raises(polyk.OptionsError):
        f.scop(sizes={"Q": 2})


def test_statement_lines_and_code():
    import inspect

    def lines(A: f64[N]):
        for i in range(N):
            A[i] = 1.0
            A[i] += 2.0

    first = inspect.getsourcelines(lines)[1]
    scop = polyk.op(lines).scop()
    assert [s.line for s in scop.statements] == [first + 2, first + 3]
    assert scop.statements[1].info.code.strip() == "A[i] += 2.0"


# ---------------------------------------------------------------- original schedule

def test_original_schedule_matches_python_execution_order():
    @polyk.op
    def mixed(A: f64[N, N], x: f64[N]):
        for i in reversed(range(N)):
            x[i] = 0.0
            for j in range(i, N, 2):
                if j != i:
                    A[i, j] = x[i]
            for j in range(N - 1, i - 1, -1):
                x[i] += A[j, i]
        for k in range(N):
            x[k] *= 2.0

    scop = mixed.scop()
    vals = {"N": 5}

    def trace(v, emit):
        n = v["N"]
        for i in reversed(range(n)):
            emit("S0", i)
            for j in range(i, n, 2):
                if j != i:
                    emit("S1", i, j)
            for j in range(n - 1, i - 1, -1):
                emit("S2", i, j)
        for k in range(n):
            emit("S3", k)

    assert execution_order(scop, vals) == traced(trace, vals)


# ---------------------------------------------------------------- dependences

def test_prefix_sum_dependences():
    @polyk.op
    def prefix(x: f64[N]):
        for i in range(1, N):
            x[i] += x[i - 1]

    scop = prefix.scop()
    deps = compute_dependences(scop)
    expect_map(deps.by_pair("flow")[("S0", "S0")],
               "[N] -> { S0[i] -> S0[i + 1] : 1 <= i < N - 1 }", scop)
    assert deps.anti.is_empty()
    assert deps.output.is_empty()


def test_gemm_reduction_dependences():
    @polyk.op
    def gemm(beta: f64, C: f64[N, M], A: f64[N, K], B: f64[K, M]):
        for i in range(N):
            for j in range(M):
                C[i, j] *= beta
            for k in range(K):
                for j in range(M):
                    C[i, j] += A[i, k] * B[k, j]

    scop = gemm.scop()
    deps = compute_dependences(scop)
    flow = deps.by_pair("flow")
    assert set(flow) == {("S0", "S1"), ("S1", "S1")}
    expect_map(flow[("S0", "S1")],
               "[N, M, K] -> { S0[i, j] -> S1[i, 0, j] : 0 <= i < N and 0 <= j < M }", scop)
    expect_map(flow[("S1", "S1")],
               "[N, M, K] -> { S1[i, k, j] -> S1[i, k + 1, j] : 0 <= i < N and "
               "0 <= k < K - 1 and 0 <= j < M }", scop)
    for kind in ("anti", "output"):
        assert deps.by_pair(kind).keys() == flow.keys()
        for pair, m in deps.by_pair(kind).items():
            assert m.is_equal(flow[pair]), (kind, pair)


def test_producer_consumer_dependences():
    @polyk.op
    def pc(x: f64[N], t: f64[N], y: f64[N]):
        for i in range(N):
            t[i] = 2.0 * x[i]
        for i in range(1, N):
            y[i] = t[i] + t[i - 1]
        for i in range(N):
            t[i] = 0.0

    scop = pc.scop()
    deps = compute_dependences(scop)
    expect_map(deps.by_pair("flow")[("S0", "S1")],
               "[N] -> { S0[i] -> S1[o] : 0 <= i < N and 1 <= o < N and (o = i or o = i + 1) }",
               scop)
    assert set(deps.by_pair("flow")) == {("S0", "S1")}
    # S2 overwrites t after S1 read it, and after S0 wrote it
    expect_map(deps.by_pair("anti")[("S1", "S2")],
               "[N] -> { S1[o] -> S2[i] : 1 <= o < N and 0 <= i < N and (o = i or o = i + 1) }",
               scop)
    expect_map(deps.by_pair("output")[("S0", "S2")],
               "[N] -> { S0[i] -> S2[i] : 0 <= i < N }", scop)


def test_stencil_dependences_in_time():
    T = polyk.params("T")

    @polyk.op
    def jac(A: f64[N], B: f64[N]):
        for t in range(T):
            for i in range(1, N - 1):
                B[i] = A[i - 1] + A[i + 1]
            for i in range(1, N - 1):
                A[i] = B[i]

    scop = jac.scop()
    deps = compute_dependences(scop)
    flow = deps.by_pair("flow")
    expect_map(flow[("S0", "S1")],
               "[N, T] -> { S0[t, i] -> S1[t, i] : 0 <= t < T and 1 <= i < N - 1 }", scop)
    expect_map(flow[("S1", "S0")],
               "[N, T] -> { S1[t, i] -> S0[t + 1, o] : 0 <= t < T - 1 and 1 <= i < N - 1 and "
               "1 <= o < N - 1 and (o = i - 1 or o = i + 1) }", scop)


# ---------------------------------------------------------------- types

def compile_op(op, **kw):
    """The loop nest as written (these tests are about the front end, not the scheduler),
    without fused multiply-add, so results are bitwise those of the Python run."""
    return polyk.generate(op, target="c", scheduler="identity", fp_contract=False, **kw)


def _function_body(source: str, name: str) -> str:
    start = source.rindex(f"void polyk_{name}(")
    return source[start:]


def test_float32_kernel_stays_float32():
    @polyk.op
    def h(a: f32, x: f32[N], y: f32[N]):
        s = 0.0
        for i in range(N):
            s += x[i] * 0.1
            y[i] = math.sqrt(a * y[i] + s / 3) + 1.5

    scop = h.scop()
    assert scop.arrays["s"].dtype == f32  # 0.0 is weak: s takes x's type
    k = compile_op(h)
    body = _function_body(k.source, "h")
    assert not re.search(r"\bdouble\b", body), body
    assert re.search(r"\bfloat\b", body)

    rng = np.random.default_rng(1)
    x = rng.random(37).astype(np.float32)
    y = rng.random(37).astype(np.float32)
    x2, y2 = x.copy(), y.copy()
    assert k(np.float32(0.7), x, y) is None
    h(0.7, x2, y2)
    assert y.dtype == np.float32 and y2.dtype == np.float32
    # computed in float32 in both (a double computation rounds differently)
    np.testing.assert_array_equal(y, y2)


def test_float32_differs_from_double_evaluation():
    """The f32 kernel's results are those of float32 arithmetic, not of double arithmetic
    rounded at the end (which would differ in the last bits for this input)."""
    @polyk.op
    def acc(x: f32[N], y: f32[N]):
        s = 0.0
        for i in range(N):
            s += x[i] * x[i]
            y[i] = s / 7

    k = compile_op(acc)
    x = (np.arange(1, 201, dtype=np.float32) / 3).astype(np.float32)
    y = np.zeros(200, np.float32)
    k(x, y)
    want = np.zeros(200, np.float32)
    acc(x, want)
    np.testing.assert_array_equal(y, want)
    dbl = (np.cumsum(x.astype(np.float64) ** 2) / 7).astype(np.float32)
    assert not np.array_equal(y, dbl)


def test_int32_and_mixed_types():
    @polyk.op
    def ints(a: i32[N], b: f64[N]):
        for i in range(N):
            a[i] = a[i] * 3 + i // 2 - (i % 3)
            b[i] = a[i] / 2 + b[i]

    scop = ints.scop()
    assert scop.arrays["a"].dtype == i32
    k = compile_op(ints)
    a = np.arange(-10, 10, dtype=np.int32)
    b = np.linspace(0, 1, 20)
    a2, b2 = a.copy(), b.copy()
    k(a, b)
    ints(a2, b2)
    assert a.dtype == np.int32
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)


def test_assigned_scalar_arguments_keep_their_type():
    """A scalar argument that is assigned keeps its declared type in C; converting the
    value explicitly makes Python agree."""
    @polyk.op
    def walk(n: i32, a: f32, x: f64[N], y: f64[N]):
        n = np.int32(n / 2)
        for i in range(N):
            a = np.float32(a * x[i])
            a += 1
            y[i] = a + n

    k = compile_op(walk)
    x = np.full(5, 1.1)
    y1, y2 = np.zeros(5), np.zeros(5)
    k(5, 1.3, x, y1)
    walk(5, 1.3, x, y2)
    np.testing.assert_array_equal(y1, y2)
    assert y1[0] == np.float32(np.float32(np.float32(1.3) * 1.1) + 1) + 2


def test_generated_code_matches_python_run_on_front_end_features():
    """Strides, negative steps, min/max bounds, conditions with % and //, temporaries:
    the compiled kernel computes what the loop nest computes as Python."""
    @polyk.op
    def feat(A: f64[N, M], x: f64[N], y: f64[M]):
        for i in reversed(range(N)):
            t = x[i]
            for j in range(max(0, i - 1), min(M, i + 4), 2):
                if (i + j) % 3 == 1 or j // 2 == i:
                    A[i, j] += t * y[j]
                else:
                    t = t * 0.5 + A[i, j]
            x[i] = t
        for j in range(M - 1, -1, -3):
            y[j] = y[j] * 2.0 + x[min(j, N - 1)]

    k = compile_op(feat)
    rng = np.random.default_rng(3)
    for n, m in [(1, 1), (3, 7), (6, 4), (9, 9)]:
        A, x, y = rng.random((n, m)), rng.random(n), rng.random(m)
        A2, x2, y2 = A.copy(), x.copy(), y.copy()
        k(A, x, y)
        feat(A2, x2, y2)
        np.testing.assert_array_equal(A, A2)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
