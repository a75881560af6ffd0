"""Run-time control of OpenMP kernels from Python.

The thread count of a kernel follows ``OMP_NUM_THREADS`` (read when the OpenMP runtime
starts). ``threads(n)`` changes it for the calls made inside the ``with`` block, through
the runtime's own API (libgomp, as gcc links it):

    with polyk.openmp_threads(8, schedule="static,1"):
        k(...)

``schedule`` sets the runtime schedule used by kernels generated with
``omp_schedule="runtime"`` (the default, "static", fixes it in the source).

Kernels with many short parallel loops (a wavefront of few tiles, a few ms in all) run best
with the threads bound to CPUs, ``OMP_PROC_BIND=true`` (set before the process starts):
unbound, libgomp's sleeping workers may be woken on the CPU of the waking thread, and with
as many threads as CPUs each barrier then waits for a scheduler time slice (measured:
jacobi-1d at LARGE, 0.3-0.6 ms bound, 8-17 ms unbound on 2 CPUs). bench/ sets it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools

_KINDS = {"static": 1, "dynamic": 2, "guided": 3, "auto": 4}


@functools.lru_cache(maxsize=None)
def _libgomp():
    name = ctypes.util.find_library("gomp") or "libgomp.so.1"
    lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
    lib.omp_get_max_threads.restype = ctypes.c_int
    lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    lib.omp_get_schedule.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    lib.omp_set_schedule.argtypes = [ctypes.c_int, ctypes.c_int]
    return lib


def max_threads() -> int:
    return _libgomp().omp_get_max_threads()


@contextlib.contextmanager
def threads(n: int, schedule: str | None = None):
    """Run OpenMP kernels called inside the block with ``n`` threads (and the given runtime
    schedule, e.g. "static,1"), restoring the previous settings afterwards."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"thread count must be a positive integer, got {n!r}")
    lib = _libgomp()
    old_n = lib.omp_get_max_threads()
    kind, chunk = ctypes.c_int(), ctypes.c_int()
    lib.omp_get_schedule(ctypes.byref(kind), ctypes.byref(chunk))
    lib.omp_set_num_threads(n)
    if schedule is not None:
        name, _, size = schedule.partition(",")
        if name not in _KINDS:
            raise ValueError(f"unknown OpenMP schedule {schedule!r}; use e.g. 'static,1'")
        lib.omp_set_schedule(_KINDS[name], int(size or 0))
    try:
        yield
    finally:
        lib.omp_set_num_threads(old_n)
        lib.omp_set_schedule(kind.value, chunk.value)
