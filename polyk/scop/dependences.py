"""Dependences from isl's dataflow analysis (as PPCG computes them).

- flow (read after write): sinks are reads, must-sources are writes;
- anti (write after read): sinks are writes, MAY-sources are reads, writes kill
  (reads given as must-sources would hide one another);
- output (write after write): sinks are writes, must-sources are writes;
- input (read after read), on request, for locality.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import islpy as isl

from ..errors import ScheduleError
from ..isl_budget import (OPERATIONS_PER_SECOND, OVER_BUDGET, is_over_budget, isl_operations,
                          operations_for)

log = logging.getLogger(__name__)

KINDS = ("flow", "anti", "output")


@dataclass(frozen=True)
class Dependences:
    flow: isl.UnionMap
    anti: isl.UnionMap
    output: isl.UnionMap
    input: isl.UnionMap | None = None
    per_array: dict = None          # array -> {"flow": ..., "anti": ..., "output": ...}

    def of_array(self, array: str, kind: str) -> isl.UnionMap:
        return self.per_array[array][kind]

    def all(self) -> isl.UnionMap:
        """Every dependence that constrains a schedule (flow, anti, output)."""
        return self.flow.union(self.anti).union(self.output)

    def by_pair(self, kind: str = "all") -> dict[tuple[str, str], isl.Map]:
        """``{(source statement, target statement): relation}`` for one kind (or all)."""
        umap = self.all() if kind == "all" else getattr(self, kind)
        out: dict[tuple[str, str], isl.Map] = {}
        for m in _maps(umap):
            key = (m.get_tuple_name(isl.dim_type.in_), m.get_tuple_name(isl.dim_type.out))
            out[key] = out[key].union(m) if key in out else m
        return dict(sorted(out.items()))

    def __repr__(self) -> str:
        lines = ["Dependences"]
        for kind in KINDS + (("input",) if self.input is not None else ()):
            pairs = self.by_pair(kind)
            lines.append(f"  {kind}: {len(pairs)} statement pair(s)")
            for (s, t), m in pairs.items():
                lines.append(f"    {s} -> {t}: {m.coalesce()}")
        return "\n".join(lines)


def _maps(umap: isl.UnionMap) -> list[isl.Map]:
    out = []
    umap.foreach_map(out.append)
    return out


def compute_dependences(scop, *, schedule: isl.Schedule | None = None,
                        input_deps: bool = False, timeout: float | None = None) -> Dependences:
    """Flow, anti and output dependences of ``scop`` under its original schedule.
    ``timeout``: seconds of isl work allowed (counted in isl operations, see
    ``polyk.isl_budget``); past it a ScheduleError names the budget."""
    t0 = time.perf_counter()
    sched = schedule if schedule is not None else scop.schedule
    ctx = scop.context
    empty = isl.UnionMap.empty(ctx.get_space())
    totals = {k: empty for k in KINDS + ("input",)}
    per_array = {}
    limit = operations_for(timeout) if timeout else None
    all_reads, all_writes = scop.reads(), scop.writes()
    accesses = {name: (_of(all_reads, name), _of(all_writes, name)) for name in scop.arrays}
    accesses = {name: rw for name, rw in accesses.items() if not rw[1].is_empty()}
    with isl_operations(limit) as in_force:
        for name, (reads, writes) in accesses.items():
            try:
                found = {
                    "flow": _value_based(scop, name, "flow", sched, reads, writes),
                    "anti": _value_based(scop, name, "anti", sched, writes, reads),
                    "output": _value_based(scop, name, "output", sched, writes, writes),
                }
                found = {k: v.intersect_params(ctx) for k, v in found.items()}
            except isl.Error as e:
                if is_over_budget(e):
                    raise ScheduleError(_over_budget(scop, name, in_force, limit, timeout)) \
                        from None
                raise ScheduleError(f"{scop.name}: isl's dataflow analysis of array {name} "
                                    f"failed inside isl: {_isl_message(e)}") from None
            per_array[name] = found
    for found in per_array.values():
        for k, v in found.items():
            totals[k] = totals[k].union(v)
    inp = None
    if input_deps:
        inp = dataflow(sched, scop.reads(), may=scop.reads()).intersect_params(ctx)
    deps = Dependences(totals["flow"], totals["anti"], totals["output"], inp, per_array)
    log.debug("dependences of %s in %.1f ms", scop.name, 1e3 * (time.perf_counter() - t0))
    return deps


def _value_based(scop, name, kind, sched, sinks, sources) -> isl.UnionMap:
    """Dependences of one kind from isl's dataflow: each sink's source is the last write
    before it (flow, output), or the reads since that write (anti: reads are may-sources,
    writes kill). On some programs the analysis fails inside isl ("affine expression
    involves some of the domain dimensions", polyk fuzz seed 2020017); then every source
    before the sink counts (memory-based: more dependences, never fewer)."""
    try:
        if kind == "anti":
            return dataflow(sched, sinks, may=sources, kill=sinks)
        return dataflow(sched, sinks, must=sources)
    except isl.Error as e:
        if is_over_budget(e):
            raise
        log.info("%s: isl's dataflow failed for the %s dependences of %s (%s); using "
                 "memory-based ones", scop.name, kind, name, _isl_message(e))
        return dataflow(sched, sinks, may=sources)


def _isl_message(err: isl.Error) -> str:
    return str(err).split(" failed: ", 1)[-1].split(" in /")[0]


def _over_budget(scop, array, in_force, limit, timeout) -> str:
    if limit is not None and in_force == limit:
        why = (f"the time budget, option schedule_timeout={timeout:g} s, counted as "
               f"{OPERATIONS_PER_SECOND:,} isl operations per second")
    else:
        why = "the budget of isl operations the caller set on isl's context"
    return (f"{scop.name}: isl's dataflow analysis of array {array} stopped: {OVER_BUDGET} "
            f"({in_force:,}: {why}); modulo and floor-division conditions make it "
            "expensive: raise the budget or simplify them")


def _of(accesses: isl.UnionMap, array: str) -> isl.UnionMap:
    """The accesses to one array."""
    out = []
    accesses.foreach_map(lambda m: out.append(m) if m.get_tuple_name(isl.dim_type.out) == array
                         else None)
    res = isl.UnionMap.empty(accesses.get_space())
    for m in out:
        res = res.union(isl.UnionMap.from_map(m))
    return res


def dataflow(sched, sinks, must=None, may=None, kill=None) -> isl.UnionMap:
    """isl's dataflow: source instance -> sink instance, under the schedule ``sched``."""
    info = isl.UnionAccessInfo.from_sink(sinks)
    if must is not None:
        info = info.set_must_source(must)
    if may is not None:
        info = info.set_may_source(may)
    if kill is not None:
        info = info.set_kill(kill)
    return info.set_schedule(sched).compute_flow().get_may_dependence()
