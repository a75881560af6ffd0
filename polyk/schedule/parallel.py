"""Parallel loops of a schedule tree, and the marks that make them OpenMP loops.

A band member is parallel (coincident) when every dependence between two instances under
the band, not separated by an outer schedule dimension or an earlier member of the band,
has distance 0 along it. Anti and output dependences on a scalar temporary do not count
when the scalar can be private to the loop: every value read under the loop was written in
the same iteration, and no value flows into or out of the loop through it.
"""

from __future__ import annotations

import islpy as isl

from .schedule import band_paths, node_at, parallel_mark



def _same(m: isl.UnionMap) -> isl.UnionMap:
    """Pairs of instances that ``m`` maps to the same value."""
    return m.apply_range(m.reverse())


def _member_map(node: isl.ScheduleNode, j: int) -> isl.UnionMap:
    upa = node.band_get_partial_schedule().get_at(j)
    return isl.UnionMap.from_union_pw_aff(upa)


def _zero_distance(pairs: isl.UnionMap, member: isl.UnionMap) -> bool:
    """Every pair has the same value under ``member``."""
    if pairs.is_empty():
        return True
    moved = pairs.apply_domain(member).apply_range(member)
    return moved.deltas().is_subset(isl.UnionSet("{ [0] }"))


def private_scalars_ok(node, j, flow: isl.UnionMap, dom: isl.UnionSet, same_outer) -> bool:
    """Can a scalar whose value-based flow dependences are ``flow`` be private to member j
    of the band at ``node``? Every value that reaches or leaves an instance under the band
    must stay within one iteration of member j of one execution of the band: same outer
    schedule (``same_outer``: prefix and earlier members) and same member j. A flow carried
    by an enclosing loop from one execution of the parallel loop into a later one is lost
    as surely as one carried by the loop itself (found by polyk.fuzz, seed 400672)."""
    touching = flow.intersect_domain(dom).union(flow.intersect_range(dom))
    if touching.is_empty():
        return True
    return touching.is_subset(same_outer.intersect(_same(_member_map(node, j))))


def _written(flow: isl.UnionMap, other: isl.UnionMap, dom: isl.UnionSet) -> bool:
    """A scalar written under ``dom`` (a source of its flow, anti or output dependences)."""
    return not flow.domain().union(other.range()).union(other.domain()).intersect(
        dom).is_empty()


def band_coincidence(node: isl.ScheduleNode, deps: isl.UnionMap, scalars: dict) -> list[bool]:
    """Which members of the band at ``node`` are parallel.

    ``deps``: dependences on arrays (flow, anti, output); ``scalars``: for each scalar
    temporary, ``(flow, anti_and_output)``.
    """
    dom = node.get_domain()
    prefix = node.get_prefix_schedule_union_map()
    same = _same(prefix)
    n = node.band_n_member()
    out = []
    for j in range(n):
        for k in range(j):
            same = same.intersect(_same(_member_map(node, k)))
        d = deps.intersect_domain(dom).intersect_range(dom).intersect(same)
        member = _member_map(node, j)
        ok = _zero_distance(d, member)
        for flow, other in scalars.values():
            if not ok:
                break
            # the OpenMP printer makes every scalar written in a parallel loop private to
            # it, so such a scalar's values must not cross the loop's iterations (a scalar
            # only read under the band is passed in, and shared)
            if _written(flow, other, dom):
                ok = private_scalars_ok(node, j, flow, dom, same)
        out.append(ok)
    return out


def mark_coincident(sched: isl.Schedule, deps: isl.UnionMap, scalars: dict) -> isl.Schedule:
    """Set the coincident flag of every band member from the dependences."""
    def visit(node):
        if node.get_type() != isl.schedule_node_type.band:
            return node
        for j, par in enumerate(band_coincidence(node, deps, scalars)):
            node = node.band_member_set_coincident(j, int(par))
        return node
    return sched.map_schedule_node_bottom_up(visit)


def _inside_sequential_loop(node: isl.ScheduleNode) -> bool:
    """Whether a non-parallel band member encloses the node."""
    while node.has_parent():
        node = node.parent()
        if node.get_type() == isl.schedule_node_type.band and not all(
                node.band_member_get_coincident(j) for j in range(node.band_n_member())):
            return True
    return False


def _inside_parallel_loop(node: isl.ScheduleNode) -> bool:
    """Whether a band with a parallel member encloses the node."""
    while node.has_parent():
        node = node.parent()
        if node.get_type() == isl.schedule_node_type.band and any(
                node.band_member_get_coincident(j) for j in range(node.band_n_member())):
            return True
    return False


def _loops_from(node: isl.ScheduleNode, first: int) -> int:
    """Schedule dimensions from member ``first`` of the band down to the deepest leaf."""
    sub = node.get_subtree_schedule_union_map()
    maps = []
    sub.foreach_map(maps.append)
    return max((m.dim(isl.dim_type.out) for m in maps), default=0) - first


# A parallel loop nested in a sequential one opens a parallel region per iteration of the
# outer loop; it is only worth it with at least this many loops of work inside it.
MIN_NESTED_PARALLEL_DEPTH = 2


def insert_parallel_marks(sched: isl.Schedule) -> isl.Schedule:
    """Above each band with a coincident member, a mark naming the schedule depth of the
    first such member, which the C printer turns into ``#pragma omp parallel for``. Inside
    a sequential loop, only where the parallel loop holds enough work
    (MIN_NESTED_PARALLEL_DEPTH loops: a wavefront of tiles does; an innermost loop does
    not)."""
    def visit(node):
        if node.get_type() != isl.schedule_node_type.band:
            return node
        n = node.band_n_member()
        first = next((j for j in range(n) if node.band_member_get_coincident(j)), None)
        if first is None:
            return node
        if (first > 0 or _inside_sequential_loop(node)) and \
                _loops_from(node, first) < MIN_NESTED_PARALLEL_DEPTH:
            return node
        if _inside_parallel_loop(node):
            # its loop runs in parallel only where the outer parallel loop is a single
            # value, a partial tile at an edge: there it opened a parallel region per
            # iteration of the sequential loops between (lu's tile band (w, i, j) over its
            # point band (k, i, j): 32 regions per edge tile, 5.9x against 10x without)
            return node
        # the mark names the schedule depth of the parallel member; it sits above the whole
        # band, which stays in one piece: splitting the band so the mark could sit right
        # above the parallel member made isl's AST generation drop instances (fuzz seed
        # 1059) and take minutes on wavefronts of rectangular stencil tiles. The band's
        # deeper parallel members follow, for where the first is a single value.
        depth = node.get_schedule_depth()
        more = [depth + j for j in range(first + 1, n) if node.band_member_get_coincident(j)
                and _loops_from(node, j) >= MIN_NESTED_PARALLEL_DEPTH]
        return node.insert_mark(isl.Id(parallel_mark(depth + first, more)))
    return sched.map_schedule_node_bottom_up(visit)


def accumulations_only(scop, deps: isl.UnionMap):
    """``serial(band)`` for ``wavefront``: a reason not to skew a band where every
    dependence between its instances links two instances of one update statement on the
    same element (bicg's ``q[i] += A[i][j] * p[j]`` and ``s[j] += r[i] * A[i][j]``, mvt's
    two products): the tiles run in order, each a block of independent accumulation
    chains, and walk the arrays row after row; a wavefront walks them tile diagonal after
    tile diagonal, short runs of every row, and waits at a barrier per diagonal (bicg at
    LARGE, 2 threads on a Xeon: 0.9x the untransformed nest with the wavefront, 2.0x
    without; mvt 3.3x and 6.0x). None where some dependence carries a value from one
    element to another (trisolv, lu, stencils: the wavefront is their parallelism)."""
    updates = {}
    for st in scop.statements:
        w = st.writes()
        if len(w) == 1 and any(a.array == w[0].array and a.expr.indices == w[0].expr.indices
                               for a in st.reads()):
            updates[st.name] = isl.UnionMap.from_map(w[0].relation)

    def serial(node) -> str | None:
        dom = node.get_domain()
        inner = deps.intersect_domain(dom).intersect_range(dom)
        if inner.is_empty():
            return None
        maps = []
        inner.foreach_map(maps.append)
        for m in maps:
            src = m.get_tuple_name(isl.dim_type.in_)
            if src != m.get_tuple_name(isl.dim_type.out) or src not in updates:
                return None
            w = updates[src]
            moved = isl.UnionMap.from_map(m).apply_domain(w).apply_range(w)
            if not moved.is_subset(moved.domain().union(moved.range()).identity()):
                return None
        return ("its loops only order accumulations into the same elements: the tiles "
                "run in order")
    return serial


def wavefront(sched: isl.Schedule, broken=None,
              serial=None) -> tuple[isl.Schedule, list[str]]:
    """Skew each outermost permutable band without a parallel member into a wavefront:
    its first member becomes the sum of its first two, which carries every dependence the
    two carried, so the second can run in parallel (Pluto's pipelined parallelism).

        for t: for i: S(t, i)     ->     for w = t + i: for i: S(w - i, i)   (i parallel)

    ``broken(schedule)``: why a skewed schedule is wrong, or None (a band permutable only
    because private scalars' dependences were dropped may interleave a scalar's uses when
    skewed: that band is left alone); ``serial(band)``: why the band is better left in
    order (``accumulations_only``), or None. Returns the schedule (the same object when
    no band changed) and notes for ``explain``."""
    notes = []
    for path in reversed(band_paths(sched)):
        node = node_at(sched, path)
        if node.get_schedule_depth() != 0:
            continue
        n = node.band_n_member()
        if n < 2 or not node.band_get_permutable() or \
                any(node.band_member_get_coincident(j) for j in range(n)):
            continue
        why = serial(node) if serial is not None else None
        if why is not None:
            notes.append(f"no wavefront: {why}")
            continue
        mupa = node.band_get_partial_schedule()
        mupa = mupa.set_at(0, mupa.get_at(0).add(mupa.get_at(1)))
        waved = node.delete().insert_partial_schedule(mupa).band_set_permutable(1)
        waved = waved.get_schedule()
        why = broken(waved) if broken is not None else None
        if why is not None:
            notes.append(f"no wavefront: {why}")
            continue
        sched = waved
        notes.append("outermost band skewed into a wavefront")
    return sched, list(reversed(notes))

