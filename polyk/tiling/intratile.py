"""Intra-tile loop order: a parallel member with stride-1 accesses goes innermost.

The point band of a tiled permutable band may be permuted freely. Pluto's hyperplanes for
a matrix product are (i, j, k), which leaves the reduction k innermost and walks B with a
stride of a row; moving j innermost makes every access stride-1 or invariant, and the
compiler vectorises it:

    for i: for j: for k: C[i,j] += A[i,k]*B[k,j]   ->   for i: for k: for j: (same)
"""

from __future__ import annotations

import islpy as isl
import sympy

from ..schedule.schedule import band_paths, node_at
from ..scop.expr import AConst, AVar, AAdd, AMul, ELoad


def _linear(e, env) -> int | None:
    """Value of an affine index expression without floor/mod/min/max; None otherwise."""
    if isinstance(e, AConst):
        return 0
    if isinstance(e, AVar):
        return env.get(e.name, 0)
    if isinstance(e, AAdd):
        a, b = _linear(e.a, env), _linear(e.b, env)
        return None if a is None or b is None else a + e.sign * b
    if isinstance(e, AMul):
        a = _linear(e.e, env)
        return None if a is None else e.coef * a
    return None


def _directions(rows: list[tuple[int, ...]]) -> list[tuple] | None:
    """For a square, invertible band matrix H (members x iterators), the iterator change
    of one step along each member with the others fixed: the columns of H^-1."""
    h = sympy.Matrix(rows)
    if h.shape[0] != h.shape[1] or h.det() == 0:
        return None
    inv = h.inv()
    return [tuple(inv[:, k]) for k in range(h.shape[1])]


def member_scores(scop, band_rows: dict) -> list[int] | None:
    """Spatial-locality score of each member: +2 per access walked with stride 1, +1 per
    access it leaves invariant, -4 per access it strides across rows."""
    n = None
    scores = None
    for name, rows in band_rows.items():
        stmt = scop.statement(name)
        dirs = _directions(rows)
        if dirs is None:
            return None
        n = len(rows)
        scores = scores or [0] * n
        refs = [stmt.body.target] + [e for e in stmt.body.value.walk() if isinstance(e, ELoad)]
        for k, d in enumerate(dirs):
            if any(not x.is_integer for x in d):
                return None
            env = dict(zip(stmt.iterators, (int(x) for x in d)))
            for ref in refs:
                if not ref.indices:
                    scores[k] += 1
                    continue
                deltas = [_linear(i, env) for i in ref.indices]
                if any(x is None for x in deltas):
                    continue
                if all(x == 0 for x in deltas):
                    scores[k] += 1
                elif all(x == 0 for x in deltas[:-1]) and abs(deltas[-1]) == 1:
                    scores[k] += 2
                else:
                    scores[k] -= 4
    return scores


def band_rows_of(node: isl.ScheduleNode, scop) -> dict:
    """Per statement, the band's integer coefficient rows over the statement's iterators."""
    mupa = node.band_get_partial_schedule()
    n = node.band_n_member()
    out: dict = {}
    for j in range(n):
        upa = mupa.get_at(j)
        pieces = []
        upa.foreach_pw_aff(pieces.append)
        for pa in pieces:
            name = pa.get_domain_space().get_tuple_name(isl.dim_type.set)
            affs = pa.get_pieces()
            if len(affs) != 1:
                return {}
            aff = affs[0][1]
            if aff.dim(isl.dim_type.div) or not aff.get_denominator_val().is_one():
                return {}
            m = aff.dim(isl.dim_type.in_)
            row = tuple(aff.get_coefficient_val(isl.dim_type.in_, k).to_python()
                        for k in range(m))
            out.setdefault(name, [None] * n)[j] = row
    return {k: v for k, v in out.items() if all(r is not None for r in v)}


def innermost_order(node: isl.ScheduleNode, scop) -> list[int] | None:
    """A permutation of the band's members putting the best parallel member last, or None
    to keep the order."""
    n = node.band_n_member()
    if n < 2:
        return None
    rows = band_rows_of(node, scop)
    if not rows:
        return None
    scores = member_scores(scop, rows)
    if scores is None:
        return None
    par = [j for j in range(n) if node.band_member_get_coincident(j)]
    if len(par) < 2:
        return None      # the only parallel member stays where it is: outer parallelism
    best = max(par[1:], key=lambda j: (scores[j], j))
    if best == n - 1 or scores[best] <= scores[n - 1]:
        return None
    return [j for j in range(n) if j != best] + [best]


def reorder_bands(sched: isl.Schedule, scop) -> tuple[isl.Schedule, list[str]]:
    """Apply ``innermost_order`` to every permutable band (before tiling, so the tile loops
    and the point loops share the order)."""
    notes = []
    for b, path in reversed(list(enumerate(band_paths(sched)))):
        node = node_at(sched, path)
        if not node.band_get_permutable():
            continue
        order = innermost_order(node, scop)
        if order is None:
            continue
        sched = permute_band(node, order).get_schedule()
        notes.append(f"b{b} members reordered {order} (stride-1 parallel loop innermost)")
    return sched, list(reversed(notes))


def permute_band(node: isl.ScheduleNode, order: list[int]) -> isl.ScheduleNode:
    """The band with its members in ``order`` (a permutable band: any order is legal)."""
    mupa = node.band_get_partial_schedule()
    coincident = [node.band_member_get_coincident(j) for j in range(node.band_n_member())]
    new = mupa
    for pos, j in enumerate(order):
        new = new.set_at(pos, mupa.get_at(j))
    node = node.delete().insert_partial_schedule(new).band_set_permutable(1)
    for pos, j in enumerate(order):
        node = node.band_member_set_coincident(pos, int(coincident[j]))
    return node
