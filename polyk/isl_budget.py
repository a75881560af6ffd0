"""Bounding isl's work: its own operation counter, the only brake isl offers a caller.

isl counts "operations" in its costly inner loops and, once a context's maximum is passed,
fails the current call with ``OVER_BUDGET``. islpy holds the GIL inside isl calls, so no
Python timer can interrupt one (a watchdog thread calling ``Context.abort`` does not run
until the call returns: tried). Time budgets are therefore counted in operations:
``OPERATIONS_PER_SECOND`` was measured on isl's dataflow analysis of polyk fuzz seed 1103,
whose modulo conditions run it for minutes (1.2 to 2.8 million operations per second on
the 2-core development VM, rising with the budget). Where the whole budget is a count
(dataflow, isl's scheduler) a program is refused or not the same way on every machine;
Pluto's ILPs get the operations left by the clock (their deadline), so not there.
"""

from __future__ import annotations

import contextlib

import islpy as isl

OVER_BUDGET = "maximal number of operations exceeded"
OPERATIONS_PER_SECOND = 2_000_000


def is_over_budget(err: BaseException) -> bool:
    return isinstance(err, isl.Error) and OVER_BUDGET in str(err)


def operations_for(seconds: float) -> int:
    return max(1, int(seconds * OPERATIONS_PER_SECOND))


@contextlib.contextmanager
def isl_operations(limit: int | None):
    """isl calls in the block stop with ``OVER_BUDGET`` past ``limit`` operations (None: no
    limit of its own). An enclosing limit stays in force (the smaller one applies; islpy
    does not expose the count so far, so the block's count starts at zero) and is restored,
    its count restarted, when the block ends. Yields the limit in force."""
    ctx = isl.DEFAULT_CONTEXT
    outer = ctx.get_max_operations()
    inner = min(x for x in (limit, outer) if x) if (limit or outer) else 0
    ctx.set_max_operations(inner)
    ctx.reset_operations()
    try:
        yield inner
    finally:
        ctx.set_max_operations(outer)
        ctx.reset_operations()
