"""An independent legality check of a schedule and of its parallel marks.

It shares no code with the dependence analysis, the schedulers or the parallelism test: it
starts again from the SCoP's access relations and original order.

- Arrays: every pair of accesses to one element, one of them a write (memory-based
  conflicts), must run in the original order.
- Scalar temporaries (which the printed code may keep private to a parallel loop): every
  value read must still come from the write it came from originally (isl's dataflow
  analysis, run here on the scalar alone), and no other write of the scalar may fall
  between that write and the read.
- A loop marked parallel (``#pragma omp parallel for``) or simd (``#pragma omp simd``,
  ``#pragma GCC ivdep``): no array conflict between two of
  its iterations; scalars in it are private, so no value may flow into, out of, or across
  iterations of the loop through them (a scalar only read under the loop stays shared).
"""

from __future__ import annotations

import islpy as isl

from ..errors import ScheduleError
from .schedule import parallel_mark_depths, simd_mark_depth

_SCALAR_KINDS = ("local", "scalar_arg")


def _accesses(scop, kind, names) -> isl.UnionMap:
    out = isl.UnionMap.empty(scop.context.get_space())
    for s in scop.statements:
        for a in s.accesses:
            if a.kind == kind and a.array in names:
                out = out.union(isl.UnionMap.from_map(a.relation))
    return out


def _memory_conflicts(scop, names) -> isl.UnionMap:
    """Source -> target pairs on the same element, one a write, source first originally."""
    reads, writes = _accesses(scop, "read", names), _accesses(scop, "write", names)
    same = writes.apply_range(writes.reverse())
    same = same.union(writes.apply_range(reads.reverse()))
    same = same.union(reads.apply_range(writes.reverse()))
    orig = scop.schedule.get_map()
    return same.intersect(orig.lex_lt_union_map(orig)).intersect_params(scop.context)


def _scalar_flow(scop, name) -> tuple[isl.UnionMap, isl.UnionSet]:
    """Value-based flow of one scalar, and the reads whose value comes from outside."""
    reads, writes = _accesses(scop, "read", {name}), _accesses(scop, "write", {name})
    info = isl.UnionAccessInfo.from_sink(reads).set_must_source(writes)
    res = info.set_schedule(scop.schedule).compute_flow()
    flow = res.get_may_dependence().intersect_params(scop.context)
    no_source = res.get_may_no_source().domain().intersect_params(scop.context)
    return flow, no_source


def _names(scop):
    arrays = [a.name for a in scop.arrays.values() if a.kind not in _SCALAR_KINDS]
    scalars = [a.name for a in scop.arrays.values() if a.kind in _SCALAR_KINDS]
    return arrays, scalars


def _describe(scop, violated: isl.UnionMap, what: str) -> str:
    maps = []
    violated.foreach_map(maps.append)
    m = maps[0]
    src, dst = m.get_tuple_name(isl.dim_type.in_), m.get_tuple_name(isl.dim_type.out)
    line = {s.name: s.line for s in scop.statements}
    return (f"{what}: {src} (line {line[src]}) -> {dst} (line {line[dst]}) "
            f"{m.coalesce()}")


class _Order:
    """Whether pairs of instances run in order under a schedule map, decided in the
    schedule's own space: the pairs are mapped to schedule vectors and compared with the
    lexicographic order there. (Building the instance-level order relation of a tiled,
    wavefronted schedule and subtracting it took minutes; this takes a fraction of a
    second.)"""

    def __init__(self, new: isl.UnionMap):
        self.new = new
        spaces = []
        new.foreach_map(lambda m: spaces.append(m.get_space().range()))
        self.flat = len({str(sp) for sp in spaces}) <= 1
        if self.flat and spaces:
            self.lt = isl.UnionMap.from_map(isl.Map.lex_lt(spaces[0]))
        elif spaces:
            self.before = new.lex_lt_union_map(new)

    def not_before(self, pairs: isl.UnionMap) -> isl.UnionMap:
        """The pairs (source -> target) whose source does not run strictly first."""
        if pairs.is_empty():
            return pairs
        if not self.flat:
            return pairs.subtract(self.before)
        bad = pairs.apply_domain(self.new).apply_range(self.new).subtract(self.lt)
        if bad.is_empty():
            return bad
        back = self.new.apply_range(bad).apply_range(self.new.reverse())
        return pairs.intersect(back)


def _maybe_between(new: isl.UnionMap, writes: isl.UnionSet,
                   reads: isl.UnionSet) -> isl.UnionMap:
    """Pairs (w, r) of a write and a read of one scalar with another write w2 that may run
    between them: w2 not strictly before w and r not strictly before w2. Instances the
    schedule puts at the same time are printed in an order of the AST generator's choosing,
    so "not strictly before" is what may happen (found by polyk.fuzz, seed 710085: isl put
    the write of t1 for (i, j + 1) and its read for (i, j) at one time)."""
    mine = new.intersect_domain(writes.union(reads))   # only the scalar's statements: small
    lt = mine.lex_lt_union_map(mine)
    later = lt.reverse()                                # (a, b): b strictly before a
    ww = isl.UnionMap.from_domain_and_range(writes, writes)
    first = ww.subtract(isl.UnionSet.identity(writes)).subtract(later)  # w2 not before w
    wr = isl.UnionMap.from_domain_and_range(writes, reads)
    second = wr.subtract(later).subtract(isl.UnionSet.identity(writes.intersect(reads)))
    return first.apply_range(second)                               # (w, r)


def scalars_interleaved(scop, tree: isl.Schedule, names) -> str | None:
    """Why ``tree`` breaks one of the scalars ``names`` (a write of it between a write and
    the read of its value), or None. A transformation that is legal once the scalars'
    anti and output dependences between iterations are dropped (they are private) can
    still interleave two iterations' uses of them: tiling or skewing the loops of a scalar's
    live range. Those transformations ask this before they keep a band's new form."""
    new = tree.get_map().intersect_domain(scop.domain())
    for name in names:
        flow, _ = _scalar_flow(scop, name)
        writes = _accesses(scop, "write", {name}).domain()
        reads = _accesses(scop, "read", {name}).domain()
        clobbered = flow.intersect(_maybe_between(new, writes, reads))
        if not clobbered.is_empty():
            return _describe(scop, clobbered, f"another write of scalar {name} falls between")
    return None


def check_schedule(scop, schedule) -> None:
    """Raise ``ScheduleError`` naming a violated dependence if ``schedule`` (a Schedule or
    an isl.Schedule) is illegal or marks a loop parallel that is not."""
    tree = schedule.tree if hasattr(schedule, "tree") else schedule
    dom = scop.domain()
    new = tree.get_map().intersect_domain(dom)
    if not new.domain().is_equal(dom):
        raise ScheduleError("the schedule does not cover every statement instance: "
                            f"{dom.subtract(new.domain())}")
    order = _Order(new)
    arrays, scalars = _names(scop)
    violated = order.not_before(_memory_conflicts(scop, set(arrays)))
    if not violated.is_empty():
        raise ScheduleError(_describe(scop, violated, "illegal schedule: it reverses the "
                                      "dependence"))
    for name in scalars:
        flow, no_source = _scalar_flow(scop, name)
        lost = order.not_before(flow)
        if not lost.is_empty():
            raise ScheduleError(_describe(scop, lost, f"illegal schedule: scalar {name} is "
                                          "read before the write it depends on"))
        writes = _accesses(scop, "write", {name}).domain()
        reads = _accesses(scop, "read", {name}).domain()
        clobbered = flow.intersect(_maybe_between(new, writes, reads))
        if not clobbered.is_empty():
            raise ScheduleError(_describe(scop, clobbered, f"illegal schedule: another "
                                          f"write of scalar {name} falls between"))
        if not no_source.is_empty():
            # a read of a value from outside the SCoP: no write may move before it
            reads_out = _accesses(scop, "read", {name}).intersect_domain(no_source).domain()
            orig = scop.schedule.get_map()
            pairs = isl.UnionMap.from_domain_and_range(reads_out, writes).intersect(
                orig.lex_lt_union_map(orig))
            bad = order.not_before(pairs)
            if not bad.is_empty():
                raise ScheduleError(_describe(scop, bad, f"illegal schedule: scalar {name}"
                                              " is overwritten before its incoming value"
                                              " is read"))
    _check_parallel_marks(scop, tree, arrays, scalars)


def _check_parallel_marks(scop, tree, arrays, scalars):
    conflicts = _memory_conflicts(scop, set(arrays))
    conflicts = conflicts.union(conflicts.reverse())
    flows = {n: _scalar_flow(scop, n) for n in scalars}
    problems = []

    def visit(node):
        if node.get_type() != isl.schedule_node_type.mark:
            return True
        name = node.mark_get_id().get_name()
        if parallel_mark_depths(name) is not None:
            kind, depths = "parallel", parallel_mark_depths(name)
        elif simd_mark_depth(name) is not None:
            kind, depths = "simd", [simd_mark_depth(name)]
        else:
            return True
        for depth in depths:
            band, j = _marked_member(node, depth)
            if band is None:
                problems.append(f"a {kind} mark that is not above a loop")
                return True
            err = _loop_problem(scop, band, conflicts, flows, kind, j)
            if err:
                problems.append(err)
        return True

    tree.get_root().foreach_descendant_top_down(visit)
    if problems:
        raise ScheduleError(problems[0])


def _marked_member(mark: isl.ScheduleNode, depth: int):
    """(band, member) of the loop a mark names: the member at schedule depth ``depth`` of
    the first band below the mark that reaches that depth (through marks and the bands of
    outer members); the first member below when the mark names no depth."""
    node = mark.child(0)
    while True:
        t = node.get_type()
        if t == isl.schedule_node_type.band:
            first = node.get_schedule_depth()
            if depth < 0 or depth == first:
                return node, 0
            if first < depth < first + node.band_n_member():
                return node, depth - first
            if depth < first:
                return None, 0
        elif t != isl.schedule_node_type.mark:
            return None, 0
        if node.n_children() != 1:
            return None, 0
        node = node.child(0)


def _loop_problem(scop, band, conflicts, flows, kind="parallel", j=0) -> str | None:
    dom = band.get_domain()
    prefix = band.get_prefix_schedule_union_map()
    same_prefix = prefix.apply_range(prefix.reverse())
    partial = band.band_get_partial_schedule()
    for k in range(j):       # the band's outer members are outer loops of the marked one
        outer = isl.UnionMap.from_union_pw_aff(partial.get_at(k))
        same_prefix = same_prefix.intersect(outer.apply_range(outer.reverse()))
    member = isl.UnionMap.from_union_pw_aff(partial.get_at(j))

    def carried(pairs):
        pairs = pairs.intersect_domain(dom).intersect_range(dom).intersect(same_prefix)
        if pairs.is_empty():
            return None
        moved = pairs.apply_domain(member).apply_range(member)
        bad = moved.deltas().subtract(isl.UnionSet("{ [0] }"))
        return None if bad.is_empty() else pairs

    bad = carried(conflicts)
    if bad is not None:
        return _describe(scop, _carried_pairs(bad, member),
                         f"a loop marked {kind} carries the dependence")
    for name, (flow, no_source) in flows.items():
        # a scalar written under the loop is private to it (only read: shared, and fine)
        if _accesses(scop, "write", {name}).domain().intersect(dom).is_empty():
            continue
        touched = _accesses(scop, "read", {name}).union(_accesses(scop, "write", {name}))
        inside = touched.domain().intersect(dom)
        if not no_source.intersect(inside).is_empty():
            return (f"scalar {name} is private to a {kind} loop but reads a value from "
                    "before the loop")
        crossing = flow.intersect_domain(dom).subtract(flow.intersect_range(dom)).union(
            flow.intersect_range(dom).subtract(flow.intersect_domain(dom)))
        if not crossing.is_empty():
            return _describe(scop, crossing, f"scalar {name} is private to a {kind} loop "
                             "but its value flows into or out of the loop")
        if carried(flow) is not None:
            return _describe(scop, _carried_pairs(carried(flow), member),
                             f"scalar {name} carries a value across iterations of a loop "
                             f"marked {kind}")
        reaching = flow.intersect_domain(dom).union(flow.intersect_range(dom))
        escaped = reaching.subtract(same_prefix)
        if not escaped.is_empty():
            return _describe(scop, escaped, f"scalar {name} is private to a {kind} loop but "
                             "its value flows from one execution of the loop to a later one "
                             "(an enclosing loop carries it)")
    return None


def _carried_pairs(pairs: isl.UnionMap, member: isl.UnionMap) -> isl.UnionMap:
    """The pairs whose member values differ."""
    same = member.apply_range(member.reverse())
    return pairs.subtract(same)
