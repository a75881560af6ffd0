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

from ..schedule.schedule import parallel_mark_depth, simd_mark


def _has_band_below(node: isl.ScheduleNode) -> bool:
    found = []

    def visit(n):
        if n.get_type() == isl.schedule_node_type.band:
            found.append(n)
        return not found

    for k in range(node.n_children()):
        node.child(k).foreach_descendant_top_down(visit)
    return bool(found)


def _unit_stride(scop, node: isl.ScheduleNode, j: int) -> bool:
    """Every array access under the band walks stride 1 (or stays put) along member j:
    two instances whose schedules differ by one step of j touch the same element or
    neighbours in the last array dimension."""
    dom = node.get_domain()
    sched = node.get_prefix_schedule_union_map().flat_range_product(
        node.band_get_partial_schedule_union_map()).intersect_domain(dom)
    total = node.get_schedule_depth() + node.band_n_member()
    pos = node.get_schedule_depth() + j
    outs = ", ".join(f"o{k}" for k in range(total))
    nxt = ", ".join(f"o{k} + 1" if k == pos else f"o{k}" for k in range(total))
    step = isl.UnionMap(f"{{ [{outs}] -> [{nxt}] }}")
    pairs = sched.apply_range(step).apply_range(sched.reverse())
    names = {s.name for s in scop.statements}
    live = []
    dom.foreach_set(lambda s: live.append(s.get_tuple_name()))
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
            ok = ", ".join(["0"] * (rank - 1) + ["d"])
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
