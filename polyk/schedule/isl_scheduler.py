"""isl's own scheduler (Verdoolaege's incremental Pluto-like algorithm), as an alternative.

Fusion policies map to isl's options: "none" serialises strongly connected components,
"max" schedules whole components at once, "smart" keeps isl's defaults.
"""

from __future__ import annotations

import contextlib

import islpy as isl

from ..errors import ScheduleError
from ..isl_budget import OVER_BUDGET, is_over_budget, isl_operations, operations_for

_FUSE_OPTIONS = {
    "none": {"schedule_serialize_sccs": 1, "schedule_whole_component": 0},
    "max": {"schedule_serialize_sccs": 0, "schedule_whole_component": 1},
    "smart": {},
}


@contextlib.contextmanager
def _isl_options(ctx: isl.Context, **opts):
    old = {k: getattr(ctx, f"get_{k}")() for k in opts}
    try:
        for k, v in opts.items():
            getattr(ctx, f"set_{k}")(v)
        yield
    finally:
        for k, v in old.items():
            getattr(ctx, f"set_{k}")(v)


def isl_schedule(scop, deps, *, fuse: str = "smart", timeout: float | None = None
                 ) -> isl.Schedule:
    """A schedule tree from isl's scheduler: validity and proximity are all dependences,
    coincidence asks for outer parallel loops where it can. ``timeout``: seconds of isl
    work, counted in isl operations (``polyk.isl_budget``), for each of the two tries."""
    validity = deps.all()
    sc = isl.ScheduleConstraints.on_domain(scop.domain())
    sc = sc.set_context(scop.context)
    sc = sc.set_validity(validity).set_proximity(validity).set_coincidence(validity)
    limit = operations_for(timeout) if timeout else None
    # isl's scheduler with outer coincidence required (each band's outer member parallel
    # where isl can) can fail with "unable to carry dependences" where the same scheduler
    # without that requirement succeeds (polyk fuzz seed 5500215): try that next
    for outer in (1, 0):
        with _isl_options(isl.DEFAULT_CONTEXT, schedule_outer_coincidence=outer,
                          **_FUSE_OPTIONS[fuse]):
            try:
                with isl_operations(limit) as in_force:
                    return sc.compute_schedule()
            except isl.Error as e:     # e.g. "unable to carry dependences"
                if is_over_budget(e) and in_force == limit:
                    raise ScheduleError(f"isl's scheduler stopped: {OVER_BUDGET} ({limit:,}: "
                                        f"the time budget, option schedule_timeout="
                                        f"{timeout:g} s, counted in isl operations)") from None
                why = str(e).split(":", 1)[-1].split(" in /")[0].strip()
    raise ScheduleError(f"isl's scheduler (scheduler='isl', fuse={fuse!r}) found no "
                        f"schedule: {why}; try scheduler='pluto' or another fuse=")
