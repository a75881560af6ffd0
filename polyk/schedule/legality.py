"""An independent legality check of a schedule.

It shares no code with the dependence analysis or the schedulers: it recomputes the
memory-based dependences directly from the SCoP's access relations and original order
(every pair of accesses to the same element, at least one a write, in original execution
order), then requires the new schedule to run every such source strictly before its target.
"""

from __future__ import annotations

import islpy as isl

from ..errors import ScheduleError


def _conflicts(scop) -> isl.UnionMap:
    """Pairs (source instance -> target instance) touching one element, one of them writing,
    with the source first in the original order."""
    reads, writes = scop.reads(), scop.writes()
    same = writes.apply_range(writes.reverse())
    same = same.union(writes.apply_range(reads.reverse()))
    same = same.union(reads.apply_range(writes.reverse()))
    orig = scop.schedule.get_map()
    before = orig.lex_lt_union_map(orig)
    return same.intersect(before).intersect_params(scop.context)


def check_schedule(scop, schedule) -> None:
    """Raise ``ScheduleError`` naming a violated dependence if ``schedule`` is illegal."""
    tree = schedule.tree if hasattr(schedule, "tree") else schedule
    new = tree.get_map().intersect_domain(scop.domain())
    if not new.domain().is_equal(scop.domain()):
        missing = scop.domain().subtract(new.domain())
        raise ScheduleError(f"the schedule does not cover every statement instance: {missing}")
    conflicts = _conflicts(scop)
    ordered = new.lex_lt_union_map(new)
    violated = conflicts.subtract(ordered)
    if not violated.is_empty():
        maps = []
        violated.foreach_map(maps.append)
        m = maps[0]
        src, dst = m.get_tuple_name(isl.dim_type.in_), m.get_tuple_name(isl.dim_type.out)
        lines = {s.name: s.line for s in scop.statements}
        raise ScheduleError(
            f"illegal schedule: it runs instances of {dst} (line {lines[dst]}) before or "
            f"together with instances of {src} (line {lines[src]}) that they depend on, "
            f"e.g. {m.sample().coalesce() if hasattr(m, 'sample') else m}; violated: "
            f"{m.coalesce()}")
