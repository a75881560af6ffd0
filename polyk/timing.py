"""Timing for benchmarks and the demo (never for tests: these machines are noisy)."""

from __future__ import annotations

import copy
import statistics
import time


def time_call(fn, make_args, *, repeat: int = 3, min_seconds: float = 0.0,
              max_seconds: float = 5.0) -> float:
    """Median wall time of ``fn(**make_args())`` over ``repeat`` runs, fresh arguments each
    time (copying them is not timed); fewer runs once ``max_seconds`` have been spent."""
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        args = make_args()
        t0 = time.perf_counter()
        fn(**args)
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if len(times) >= 50 or spent > max_seconds and spent >= min_seconds:
            break
    return statistics.median(times)


def fresh(inputs: dict):
    """A factory of deep copies of ``inputs``."""
    return lambda: copy.deepcopy(inputs)
