"""The AST check (polyk/codegen/ast_check.py): isl's AST read back into isl must execute
every statement instance of the schedule exactly once; planted wrong ASTs are refused."""

from __future__ import annotations

import islpy as isl
import numpy as np
import pytest

import polyk
from polyk.codegen.ast_check import AstMismatch, check_ast, executed
from polyk.codegen.c_printer import build_ast

CTX = isl.Set("[N] -> { : N > 0 }")


def _tree(domain: str, *bands: str) -> isl.Schedule:
    node = isl.Schedule.from_domain(isl.UnionSet(domain)).get_root().child(0)
    for b in bands:
        node = node.insert_partial_schedule(isl.MultiUnionPwAff(b)).child(0)
    return node.get_schedule()


def _ast(tree: isl.Schedule) -> isl.AstNode:
    return isl.AstBuild.from_context(CTX).node_from_schedule(tree)


STRIDED = "[N] -> { S[i, j] : 0 <= i < N and 0 <= j < N and (i + j) mod 3 = 0 }"


def test_right_ast_passes_and_reads_back_exactly():
    tree = _tree(STRIDED, "[N] -> [{ S[i, j] -> [(i + j)] }]", "[N] -> [{ S[i, j] -> [(j)] }]")
    node = _ast(tree)
    check_ast(node, tree.get_domain(), CTX)
    maps = executed(node, ["N"])
    got = isl.UnionSet.from_set(maps[0].range()).intersect_params(CTX)
    assert got.is_equal(tree.get_domain().intersect_params(CTX))


def test_ast_of_a_smaller_domain_is_refused():
    small = "[N] -> { S[i, j] : 0 <= i < N and 0 <= j < N - 1 and (i + j) mod 3 = 0 }"
    node = _ast(_tree(small, "[N] -> [{ S[i, j] -> [(i)] }]", "[N] -> [{ S[i, j] -> [(j)] }]"))
    with pytest.raises(AstMismatch, match="misses the instances"):
        check_ast(node, isl.UnionSet(STRIDED), CTX)


def test_ast_of_a_larger_domain_is_refused():
    node = _ast(_tree("[N] -> { S[i, j] : 0 <= i <= N and 0 <= j < N }",
                      "[N] -> [{ S[i, j] -> [(i)] }]", "[N] -> [{ S[i, j] -> [(j)] }]"))
    with pytest.raises(AstMismatch, match="outside the domain"):
        check_ast(node, isl.UnionSet("[N] -> { S[i, j] : 0 <= i < N and 0 <= j < N }"), CTX)


def test_instances_run_twice_are_refused():
    # a schedule relation that is not a function: isl prints S(c0) inside a loop over c1
    node = isl.AstBuild.from_context(CTX).node_from_schedule_map(
        isl.UnionMap("[N] -> { S[i] -> [i, t] : 0 <= i < N and 0 <= t <= 1 }"))
    assert "S(c0)" in node.to_C_str()
    with pytest.raises(AstMismatch, match="more than once"):
        check_ast(node, isl.UnionSet("[N] -> { S[i] : 0 <= i < N }"), CTX)


def test_isl_ast_that_drops_a_loop_is_refused():
    """isl's own bug (polyk fuzz seed 910068, reduced): for the schedule (i - j, k) of this
    domain the AST has no loop over k, although k takes two values for even j."""
    tree = _tree("{ S[i, j, k] : i mod 3 = 0 and (j + k) mod 2 = 0 and 0 <= i <= 3 and "
                 "0 <= j <= 2 and 0 <= k <= 2 }",
                 "[{ S[i, j, k] -> [(i - j)] }]", "[{ S[i, j, k] -> [(k)] }]")
    node = isl.AstBuild.from_context(isl.Set("{ : }")).node_from_schedule(tree)
    if "c1" in node.to_C_str():
        pytest.skip("this isl prints the k loop: the bug is fixed upstream")
    with pytest.raises(AstMismatch, match="misses the instances"):
        check_ast(node, tree.get_domain(), isl.Set("{ : }"))


@pytest.mark.parametrize("name", ["gemm", "jacobi-2d", "heat-3d", "lu", "seidel-2d"])
def test_library_kernels_pass_the_check(name):
    """Tiled, wavefront, diamond and separated ASTs read back completely (the check sits
    in build_ast, so generating is the test; it also runs on the schedule itself here)."""
    from polyk.kernels import LIBRARY
    k = polyk.generate(LIBRARY[name].op, target="openmp", compile=False)
    assert k.schedule.scheduler != "identity"
    check_ast(build_ast(k.scop, k.schedule), k.schedule.tree.get_domain(), k.scop.context)


FALLBACK = """\
def drop(A: f64[M + 1]):
    for i in range(0, 4, 3):
        for j in range(M - 1, -1, -1):
            for k in range(j % 2, M, 2):
                A[M] += A[j + 1] - 0.125 * k
"""


def test_pipeline_falls_back_to_the_nest_as_written_with_a_warning(monkeypatch):
    """When both forms of the tree fail the check, generate() warns, prints the loop nest
    as written (also checked) and says so in the schedule's notes."""
    import polyk.codegen.c_printer as cp
    real = cp.check_ast
    calls = []

    def failing_for_pluto(node, domain, context):
        calls.append(1)
        if len(calls) <= 2:
            raise AstMismatch("planted")
        return real(node, domain, context)

    monkeypatch.setattr(cp, "check_ast", failing_for_pluto)
    M = polyk.params("M")
    op = polyk.Op.from_source(FALLBACK, namespace={"polyk": polyk, "f64": polyk.f64, "M": M},
                              filename="<drop>")
    with pytest.warns(polyk.PolykWarning, match="planted"):
        k = polyk.generate(op, target="openmp", scheduler="pluto")
    assert k.schedule.scheduler == "identity"
    assert any("failed its check" in n for n in k.schedule.notes)
    A = np.random.rand(6)
    want = A.copy()
    op(A=want)
    k(A=A)
    np.testing.assert_allclose(A, want, rtol=1e-12)


def test_check_over_its_budget_checks_sampled_parameter_values(monkeypatch):
    """Over its budget for all values of N, the check runs at sampled values of N (finite
    sets: cheap) and says so; a wrong AST is still caught there, naming the value; with the
    samples over their budget too it cannot tell."""
    import polyk.codegen.ast_check as ac
    tree = _tree(STRIDED, "[N] -> [{ S[i, j] -> [(i + j)] }]", "[N] -> [{ S[i, j] -> [(j)] }]")
    note = check_ast(_ast(tree), tree.get_domain(), CTX, budget=10)
    assert note.startswith("AST checked at 25 values of (N) from 1 to 97 only"), note
    assert check_ast(_ast(tree), tree.get_domain(), CTX) is None   # the budget is restored
    small = "[N] -> { S[i, j] : 0 <= i < N and 0 <= j < N - 1 and (i + j) mod 3 = 0 }"
    wrong = _ast(_tree(small, "[N] -> [{ S[i, j] -> [(i)] }]", "[N] -> [{ S[i, j] -> [(j)] }]"))
    with pytest.raises(AstMismatch, match="at N = 1: the AST misses the instances"):
        check_ast(wrong, isl.UnionSet(STRIDED), CTX, budget=10)
    monkeypatch.setattr(ac, "SAMPLE_OPERATIONS", 1)
    with pytest.raises(ac.AstUnverified, match="more than 10 isl operations, and more than 1"):
        check_ast(_ast(tree), tree.get_domain(), CTX, budget=10)


def test_select_in_a_bound_is_read_back():
    """isl prints ``c1 = (c0 == 0 ? 0 : c0 + 6)``-like bounds; its parser reads no ?:, so
    the check reads them as a disjunction (fuzz seed 224 was reported unverified before)."""
    from polyk import fuzz
    ch = fuzz.Checker(fuzz.program(224))
    ch.prepare()
    opts = {"scheduler": "pluto", "target": "openmp", "fp_contract": False, "fuse": "smart",
            "tile": (3, 2), "l2_tile": (2, 3), "separate": False, "unroll_jam": None}
    assert ch.check(opts).status == "ok"
    k = polyk.generate(fuzz.program(224).op(), compile=False, **{
        k: v for k, v in opts.items() if k != "fp_contract"})
    assert "AST not verified" not in k.source
