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

log = logging.getLogger(__name__)

KINDS = ("flow", "anti", "output")


@dataclass(frozen=True)
class Dependences:
    flow: isl.UnionMap
    anti: isl.UnionMap
    output: isl.UnionMap
    input: isl.UnionMap | None = None

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
                        input_deps: bool = False) -> Dependences:
    """Flow, anti and output dependences of ``scop`` under its original schedule."""
    t0 = time.perf_counter()
    sched = schedule if schedule is not None else scop.schedule
    reads, writes = scop.reads(), scop.writes()

    def flow_of(sinks, must=None, may=None, kill=None):
        info = isl.UnionAccessInfo.from_sink(sinks)
        if must is not None:
            info = info.set_must_source(must)
        if may is not None:
            info = info.set_may_source(may)
        if kill is not None:
            info = info.set_kill(kill)
        res = info.set_schedule(sched).compute_flow()
        return res.get_may_dependence()

    flow = flow_of(reads, must=writes)
    anti = flow_of(writes, may=reads, kill=writes)
    output = flow_of(writes, must=writes)
    inp = flow_of(reads, may=reads) if input_deps else None
    ctx = scop.context
    deps = Dependences(*(d.intersect_params(ctx) if d is not None else None
                         for d in (flow, anti, output, inp)))
    log.debug("dependences of %s in %.1f ms", scop.name, 1e3 * (time.perf_counter() - t0))
    return deps
