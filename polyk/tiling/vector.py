"""Vector marks: the innermost loop that gcc should vectorise, said out loud.

After tiling and the intra-tile reordering (intratile.py), the innermost loop of a tile is
often parallel with stride-1 accesses. gcc vectorises such loops when its own dependence
test succeeds; with flattened row-major subscripts over symbolic sizes it often cannot
prove independence and either gives up or versions the loop. polyk knows the loop carries
no dependence, so it marks it: ``#pragma omp simd`` (compiled with -fopenmp-simd, no
OpenMP runtime) or ``#pragma GCC ivdep``.

A mark goes above a one-member band (the last member of an innermost band is split off)
and names its schedule depth; the legality checker verifies it like a parallel mark (no
dependence carried, scalars written in the loop private to an iteration).
"""

from __future__ import annotations

import islpy as isl

from ..schedule.schedule import (multi_union_pw_aff, parallel_mark, parallel_mark_depth,
                                 parallel_mark_depths, simd_mark)
from .packing import layouts_above


def _range_dims(umap: isl.UnionMap) -> int:
    maps = []
    umap.foreach_map(maps.append)
    return maps[0].dim(isl.dim_type.out) if maps else 0


def _has_band_below(node: isl.ScheduleNode) -> bool:
    found = []

    def visit(n):
        if n.get_type() == isl.schedule_node_type.band:
            found.append(n)
        return not found

    for k in range(node.n_children()):
        node.child(k).foreach_descendant_top_down(visit)
    return bool(found)


def _unit_stride(scop, node: isl.ScheduleNode, j: int, below: bool = False) -> bool:
    """Every array access under the band walks stride 1 (or stays put) along member j:
    two instances whose schedules differ by one step of j touch the same element or
    neighbours in the last array dimension (the last dimension of the transposed buffer
    where one serves the access). ``below``: the schedule of the bands below
    stays the same too (the step of j with the inner loops fixed)."""
    dom = node.get_domain()
    part = node.get_subtree_schedule_union_map() if below else \
        node.band_get_partial_schedule_union_map()
    sched = node.get_prefix_schedule_union_map().flat_range_product(part).intersect_domain(
        dom)
    total = node.get_schedule_depth() + _range_dims(part)
    pos = node.get_schedule_depth() + j
    outs = ", ".join(f"o{k}" for k in range(total))
    nxt = ", ".join(f"o{k} + 1" if k == pos else f"o{k}" for k in range(total))
    step = isl.UnionMap(f"{{ [{outs}] -> [{nxt}] }}")
    pairs = sched.apply_range(step).apply_range(sched.reverse())
    names = {s.name for s in scop.statements}
    live = []
    dom.foreach_set(lambda s: live.append(s.get_tuple_name()))
    layout = layouts_above(scop, node)
    for s in scop.statements:
        if s.name not in live:
            continue
        for a in s.accesses:
            arr = scop.arrays[a.array]
            if not arr.shape:
                continue
            rel = isl.UnionMap.from_map(a.relation)
            moved = pairs.apply_domain(rel).apply_range(rel)
            if moved.is_empty():
                continue
            rank = len(arr.shape)
            # a transposed buffer (packing.py) is walked along its last dimension
            last = (layout(s, a) or (rank - 1,))[-1]
            ok = ", ".join("d" if k == last else "0" for k in range(rank))
            tup = a.relation.get_tuple_name(isl.dim_type.out)
            allowed = isl.UnionSet(f"{{ {tup}[{ok}] : -1 <= d <= 1 }}")
            if not moved.deltas().is_subset(allowed):
                return False
    return bool(names)


def insert_simd_marks(sched: isl.Schedule, scop) -> tuple[isl.Schedule, list[str]]:
    """Mark the last member of every innermost band when it is parallel (coincident) and
    every access under it is stride-1 or invariant along it."""
    notes = []

    def visit(node):
        if node.get_type() != isl.schedule_node_type.band or _has_band_below(node):
            return node
        n = node.band_n_member()
        j = n - 1
        if not node.band_member_get_coincident(j) or not _unit_stride(scop, node, j):
            return node
        if n == 1 and node.has_parent() and \
                node.parent().get_type() == isl.schedule_node_type.mark and \
                parallel_mark_depth(node.parent().mark_get_id().get_name()) is not None:
            return node       # the OpenMP loop itself: its body is outlined, no simd
        if n > 1:
            node = node.band_split(j).child(0)
        node = node.insert_mark(isl.Id(simd_mark(node.get_schedule_depth())))
        notes.append(f"loop c{node.get_schedule_depth()} marked simd")
        node = node.child(0)
        return node.parent().parent() if n > 1 else node.parent()

    sched = sched.map_schedule_node_bottom_up(visit)
    return sched, sorted(set(notes))


def sink_vector_members(sched: isl.Schedule, scop) -> tuple[isl.Schedule, list[str]]:
    """Move a parallel member of a point band with stride-1 accesses below the bands
    under it, when the innermost of those carries a dependence.

    conv2d's band is (n, k, p, q, c) with the filter loops r and s below it, in bands of
    their own (the sum's order c, r, s is fixed: permuting it would change the rounding).
    The innermost loop s is a reduction, so nothing vectorises; q is parallel with stride-1
    accesses (out and inp) and carries no dependence under any loop, so it can go
    innermost: the sum over (c, r, s) of each out[n, k, p, q] keeps its order, and the q
    loop becomes a vector loop. Only point bands (their tile loops keep the order), whose
    subtree is a chain of bands; the legality checker verifies the result."""
    from .unroll_jam import _marks
    notes = []
    done = set()
    while True:
        todo = [(p, m) for p, m in _marks(sched.get_root(), ()) if p not in done]
        if not todo:
            return sched, notes
        path, mark = todo[0]
        done.add(path)
        band, marks = mark.child(0), []
        while band.get_type() == isl.schedule_node_type.mark:
            marks.append(band.mark_get_id().get_name())
            band = band.child(0)
        if band.get_type() != isl.schedule_node_type.band or \
                any(parallel_mark_depths(m) is None for m in marks):
            continue
        chain, node = [], band.child(0)
        while node.get_type() in (isl.schedule_node_type.band, isl.schedule_node_type.mark):
            if node.get_type() == isl.schedule_node_type.mark:
                break                        # a parallel or register mark: leave it
            chain.append(node)
            node = node.child(0)
        if not chain or node.get_type() != isl.schedule_node_type.leaf:
            continue
        last = chain[-1]
        if last.band_member_get_coincident(last.band_n_member() - 1):
            continue
        n = band.band_n_member()
        cands = [j for j in range(n) if band.band_member_get_coincident(j)
                 and _unit_stride(scop, band, j, below=True)
                 and _writes_walked(scop, band, j)]
        if not cands:
            continue
        j = cands[-1]
        mupa = band.band_get_partial_schedule()
        coin = [band.band_member_get_coincident(k) for k in range(n)]
        sunk = mupa.get_at(j)
        depth = band.get_schedule_depth()
        node = band.delete()
        if n > 1:
            rest = [k for k in range(n) if k != j]
            node = node.insert_partial_schedule(
                multi_union_pw_aff([mupa.get_at(k) for k in rest]))
            node = node.band_set_permutable(1)
            for pos, k in enumerate(rest):
                node = node.band_member_set_coincident(pos, int(coin[k]))
        while node.get_type() != isl.schedule_node_type.leaf:
            node = node.child(0)
        node = node.insert_partial_schedule(multi_union_pw_aff([sunk]))
        node = node.band_member_set_coincident(0, 1)
        sched = node.get_schedule()
        # the parallel marks above the band name its members by depth: the sunk one's is
        # gone, the deeper ones move up by one
        mnode = sched.get_root()
        for k in path + (0,):
            mnode = mnode.child(k)
        for name in marks:
            depths = [d if d < depth + j else d - 1
                      for d in parallel_mark_depths(name) if d != depth + j]
            mnode = mnode.delete()
            if depths:
                mnode = mnode.insert_mark(isl.Id(parallel_mark(depths[0], depths[1:])))
                mnode = mnode.child(0)
        sched = mnode.get_schedule()
        notes.append(f"point loop c{depth + j} moved innermost, below the loops of the "
                     "reduction (stride-1 and parallel: the vector loop)")


def _writes_walked(scop, band, j) -> bool:
    """Some written element changes along member j (a loop along which every write stays
    put would vectorise a reduction)."""
    from .unroll_jam import _writes_invariant
    return not _writes_invariant(scop, band, j)

