"""Unroll-and-jam of a loop into the loops of its body (imperfect nests).

atax's schedule keeps the row loop around two inner loops that the dependences keep apart:

    for i:                                     for ib in 0.. step 8:
      for j: tmp[i] += A[i][j] * x[j]            for j: for ii < 8: tmp[ib+ii] += ...
      for j: y[j] += A[i][j] * tmp[i]            for jb step 16: for ii < 8: y[jb..+15] += ...

Each row's sum over j is one chain of dependent adds: the untransformed nest, and polyk's
schedule, run at the latency of the add, one element per 3-4 cycles. Blocking the outer
loop by f and moving the block's point loop (``ii = i mod f``) into every loop of its
body, as the first member of each inner band, gives each inner band the two members that
register tiling needs (unroll_jam.py): tmp's band (ii, j) has independent chains along ii
and its reduction along j (f scalar accumulators); y's band (ii, j) has its reduction
along ii and its vector loop along j (y's vectors stay in registers across the f rows).

The order changes: the block's rows run through the first inner loop before the second.
That is legal only where no dependence goes from an instance of a later inner loop to an
instance of an earlier one within f rows, and the register blocks need each new band
permutable. Both are checked by running the legality checker on the transformed schedule;
where it refuses, the band is left as it was. The transformation is kept only where it
gives some inner loop a block of scalar accumulators (a chain the untransformed nest is
bound by).
"""

from __future__ import annotations

import islpy as isl

from ..errors import OptionsError
from ..schedule.schedule import (CUT_MARK, band_paths, multi_union_pw_aff, node_at,
                                 replace_band)
from .unroll_jam import SCALAR_ROWS, _elem_bytes, _factors, _split, choose_members

# nominal point size of an untiled inner member (unroll_jam._factors picks the vector
# block as a divisor of the point size: any power of two above the block will do)
UNTILED = 1 << 20


def _sequence_below(node: isl.ScheduleNode) -> isl.ScheduleNode:
    seq = node.child(0)
    while seq.get_type() == isl.schedule_node_type.mark and \
            seq.mark_get_id().get_name().startswith(CUT_MARK):
        seq = seq.child(0)
    return seq


def _body_bands(node: isl.ScheduleNode):
    """The sequence below band ``node`` (past Pluto's cut marks) and its children's bands,
    where every child is a filter over one innermost band; else None."""
    seq = _sequence_below(node)
    if seq.get_type() != isl.schedule_node_type.sequence:
        return None
    for k in range(seq.n_children()):
        band = seq.child(k).child(0)
        if band.get_type() != isl.schedule_node_type.band or \
                band.child(0).get_type() != isl.schedule_node_type.leaf:
            return None
    return seq


def _permutable(band: isl.ScheduleNode, deps: isl.UnionMap) -> bool:
    """Every dependence between two instances under ``band`` with the same outer schedule
    has a non-negative distance along each of its members."""
    dom = band.get_domain()
    prefix = band.get_prefix_schedule_union_map().intersect_domain(dom)
    d = deps.intersect_domain(dom).intersect_range(dom).intersect(
        prefix.apply_range(prefix.reverse()))
    if d.is_empty():
        return True
    mupa = band.band_get_partial_schedule()
    for j in range(band.band_n_member()):
        m = isl.UnionMap.from_union_pw_aff(mupa.get_at(j))
        dist = d.apply_domain(m).apply_range(m).deltas()
        if not dist.is_subset(isl.UnionSet("{ [x] : x >= 0 }")):
            return False
    return True


def _sink(sched: isl.Schedule, path, f: int, deps: isl.UnionMap) -> isl.Schedule:
    """The schedule with the innermost member m of the band at ``path`` replaced by
    m - m mod f and m mod f prepended to each inner band (permutable where the
    dependences allow it)."""
    node = node_at(sched, path)
    n = node.band_n_member()
    mupa = node.band_get_partial_schedule()
    members = [mupa.get_at(j) for j in range(n)]
    m = members[-1]
    outer = members[:-1] + [m.sub(m.mod_val(isl.Val(f)))]
    node = replace_band(node, multi_union_pw_aff(outer), node.band_get_permutable(),
                         [node.band_member_get_coincident(j) for j in range(n)])
    seq = _body_bands(node)
    for k in range(seq.n_children()):
        filt = seq.child(k)
        band = filt.child(0)
        inner = band.band_get_partial_schedule()
        point = m.mod_val(isl.Val(f)).intersect_domain(filt.filter_get_filter())
        upas = [point] + [inner.get_at(j) for j in range(band.band_n_member())]
        node = replace_band(band, multi_union_pw_aff(upas), False)
        node = node.band_set_permutable(int(_permutable(node, deps)))
        seq = node.parent().parent()
    return seq.get_schedule()


def jam_into_bodies(sched: isl.Schedule, scop, deps: isl.UnionMap, option,
                    vector_bytes: int, recolour, problem) -> tuple[isl.Schedule, list[str]]:
    """Unroll-and-jam every band whose body is a sequence of innermost loops into them,
    where that gives one of them scalar accumulators. ``deps``: every dependence;
    ``option``: unroll_jam's (fu, fv) or None; ``recolour(schedule)``: the schedule with
    coincident flags recomputed; ``problem(schedule)``: why a schedule is illegal, or
    None."""
    notes = []
    f = option[0] if option is not None else SCALAR_ROWS
    if f < 2:
        return sched, notes
    done = set()
    while True:
        paths = [p for p in band_paths(sched)
                 if p not in done and _body_bands(node_at(sched, p)) is not None]
        if not paths:
            return sched, notes
        path = paths[0]
        done.add(path)
        outer = node_at(sched, path)
        if not outer.band_get_ast_build_options().is_empty():
            continue
        n_inner = _body_bands(outer).n_children()
        trial = recolour(_sink(sched, path, f, deps))
        blocks, scalar = [], False
        for k in range(n_inner):
            band = _sequence_below(node_at(trial, path)).child(k).child(0)
            if not band.band_get_permutable():
                continue
            pick = choose_members(scop, band)
            if pick is None:
                continue
            u, r, v = pick
            sizes = [f] + [UNTILED] * (band.band_n_member() - 1)
            try:
                fu, fv = _factors(option, _elem_bytes(scop, band), sizes, u, v, vector_bytes)
            except OptionsError:
                continue          # the block would not fit the jammed rows: no block here
            if fu * fv <= 1:
                continue
            node, text = _split(band, u, r, v, fu, fv)
            trial = node.get_schedule()
            blocks.append(text)
            scalar = scalar or v is None
        if not scalar:
            continue
        trial = recolour(trial)
        why = problem(trial)
        if why is not None:
            # the checker's message up to the relation it prints
            why = why.splitlines()[0].split(" [")[0].split(" {")[0]
            notes.append(f"loop c{outer.get_schedule_depth() + outer.band_n_member() - 1} "
                         f"not jammed into its body: {why}")
            continue
        sched = trial
        depth = outer.get_schedule_depth() + outer.band_n_member() - 1
        notes.append(f"loop c{depth} unrolled by {f} and jammed into the {n_inner} loops of "
                     f"its body: " + "; ".join(blocks))
