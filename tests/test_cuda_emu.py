"""The generated CUDA, run on the CPU by the emulator of tests/cuda_emu.py, equals the NumPy
references: every library kernel, under default and non-default mapping options, with the
threads of a block truly concurrent and also one at a time in several orders, and the blocks
in several orders (a correct kernel's result depends on none of them).

The emulator's own checks come first: hand-written kernels with a race, a read of unwritten
shared memory, a write out of bounds, a barrier in divergent code, a bad launch, a crash and a
hang must each be caught."""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest

import polyk
from polyk.errors import MismatchError
from polyk.kernels import LIBRARY

import cuda_emu
from cuda_emu import EmulatedKernel, EmulationError, run_emulated

_WHY = cuda_emu.unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"CUDA emulator unavailable: {_WHY}")

# the option sets of the brief (the non-default mapping of tests/test_cuda.py without its
# registers/unroll/index changes, no software pipelining, no vector points)
OPTION_SETS = {
    "default": {},
    "other": dict(gpu_tile=(6, 8, 12), gpu_threads=(2, 4, 4), gpu_inner_tile=5, shared=True),
    "noprefetch": dict(prefetch=False),
    "vector1": dict(gpu_vector=1),
}
# the two non-default mappings of tests/test_cuda.py, in full (registers off, unroll, 64-bit
# indices; small tiles without shared memory, min_blocks): run with -m slow or POLYK_SLOW=1
SLOW_OPTION_SETS = {
    "test_cuda-other": dict(gpu_tile=(6, 8, 12), gpu_threads=(2, 4, 4), gpu_inner_tile=5,
                            shared=True, registers=False, unroll=2,
                            cflags=("-DPOLYK_INDEX64",)),
    "test_cuda-regs": dict(gpu_tile=(4, 8, 16), gpu_threads=(1, 2, 8), gpu_inner_tile=3,
                           shared=False, registers=True, min_blocks=2),
}
# (threads of a block, order of the blocks, the end of each array that touches an
# inaccessible page): truly concurrent threads first, then one thread at a time from
# barrier to barrier (deterministic) in other orders
SCHEDULES = [("concurrent", "forward", "end"), ("reverse", "reverse", "start"),
             ("shuffle", "shuffle", "end")]
FIRST = ("gemm", "2mm", "jacobi-2d", "syr2k", "correlation")
KERNELS = list(FIRST) + [n for n in LIBRARY if n not in FIRST]


def _points(sizes: dict) -> int:
    return math.prod(int(v) for v in sizes.values())


def _check_all(ek: EmulatedKernel, spec, schedules, sizes_list) -> list[str]:
    """polyk.check under each schedule and size; the failures, described."""
    failures = []
    for threads, blocks, guard in schedules:
        run = ek.with_schedule(threads=threads, blocks=blocks, guard=guard)
        for sizes in sizes_list:
            try:
                polyk.check(run, spec.reference, sizes, rtol=spec.rtol)
            except (MismatchError, EmulationError) as e:
                failures.append(f"threads={threads} blocks={blocks} guard={guard} "
                                f"sizes={sizes}: "
                                f"{type(e).__name__}: {e}")
    return failures


def _option_params():
    out = [pytest.param(o, id=o) for o in OPTION_SETS]
    out += [pytest.param(o, id=o, marks=pytest.mark.slow) for o in SLOW_OPTION_SETS]
    return out


@pytest.mark.parametrize("options", _option_params())
@pytest.mark.parametrize("name", KERNELS)
def test_library_kernel_emulated(name, options):
    spec = LIBRARY[name]
    extra = OPTION_SETS.get(options) if options in OPTION_SETS else SLOW_OPTION_SETS[options]
    k = polyk.generate(spec.op, target="cuda", compile=False, **extra)
    ek = EmulatedKernel(k)
    sizes = spec.test_sizes()
    first = sizes[0]
    smallest = min(sizes, key=_points)
    failures = _check_all(ek, spec, SCHEDULES, [first])
    if smallest is not first:
        failures += _check_all(ek, spec, SCHEDULES[:1], [smallest])
    assert not failures, f"{name} with {options} options:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", FIRST)
def test_library_kernel_emulated_index64(name):
    """The 64-bit index versions of the kernels (the launcher picks the 32-bit ones at the
    test sizes unless built with -DPOLYK_INDEX64)."""
    spec = LIBRARY[name]
    k = polyk.generate(spec.op, target="cuda", compile=False)
    ek = EmulatedKernel(k, index64=True)
    failures = _check_all(ek, spec, SCHEDULES[:2], spec.test_sizes()[:1])
    assert not failures, f"{name} with 64-bit indices:\n" + "\n".join(failures)


# ------------------------------------------------------------------ the emulator itself

HEAD = "#include <stdint.h>\n#include <cuda_runtime.h>\n"


def _run(src, launcher, args, **kw):
    return run_emulated(HEAD + src, launcher, args, **kw)


def test_launch_rewrite():
    src = ("void h(int n, double *x) { dim3 g(n); k<int32_t><<<g, dim3(32, 2)>>>(n, x);\n"
           "  k2 <<<1, 1, 0>>>(x); }")
    out = cuda_emu.emulator_source(src)
    assert "<<<" not in out
    assert ('polyk_emu_launch(dim3(g), dim3(dim3(32, 2)), [&]() { k<int32_t>(n, x); }, '
            '"k<int32_t>");') in out
    assert 'polyk_emu_launch(dim3(1), dim3(1), [&]() { k2(x); }, "k2");' in out
    with pytest.raises(ValueError):
        cuda_emu.emulator_source("k<<<1, 1, n>>>(x);")


BLOCK_SUM = """
template <typename I> __global__ void __launch_bounds__(64, 2) k(I n, double *__restrict__ out,
                                                               double const *__restrict__ in)
{
  __shared__ double s[64];
  const int64_t t = threadIdx.x + blockDim.x * threadIdx.y;
  const int64_t i = blockIdx.x * 64 + t;
  s[t] = i < n ? in[i] : 0.0;
  SYNC1;
  if (t == 0) { double a = 0; for (int j = 0; j < 64; j++) a += s[j]; out[blockIdx.x] = a; }
}
POLYK_EXPORT int f(int64_t n, double *out, double const *in)
{
  k<int32_t><<<(n + 63) / 64, dim3(16, 4)>>>(n, out, in);
  return (int)cudaPeekAtLastError();
}
"""


def test_block_sum_and_missing_barrier():
    x = np.arange(200, dtype=np.float64)
    want = [x[i:i + 64].sum() for i in range(0, 200, 64)]
    good = BLOCK_SUM.replace("SYNC1", "__syncthreads()")
    for threads, blocks, guard in SCHEDULES:
        out = np.zeros(4)
        info = _run(good, "f", [200, out, x], threads=threads, blocks=blocks, guard=guard)
        assert np.array_equal(out, want), (threads, blocks)
        assert info["launches"] == 1 and info["blocks"] == 4 and info["phases"] == 4
    # without the barrier thread 0 sums before (most of) the others wrote: with the threads
    # one at a time, in reverse order, it runs last (and sums correctly), in forward order
    # first (and reads the 0xFF poison: NaN)
    bad = BLOCK_SUM.replace("SYNC1", "(void)0")
    out = np.zeros(4)
    _run(bad, "f", [200, out, x], threads="forward")
    assert np.isnan(out).all()
    out = np.zeros(4)
    _run(bad, "f", [200, out, x], threads="reverse")
    assert np.array_equal(out, want)


def test_unwritten_shared_memory_reads_poison():
    src = """
template <typename I> __global__ void k(double *out)
{ __shared__ double s[32]; if (threadIdx.x % 2) s[threadIdx.x] = 1.0; __syncthreads();
  out[threadIdx.x] = s[threadIdx.x]; }
POLYK_EXPORT int f(double *out) { k<int><<<1, 32>>>(out); k<long><<<1, 32>>>(out + 32);
  return (int)cudaPeekAtLastError(); }
"""
    out = np.zeros(64)
    _run(src, "f", [out])
    assert np.isnan(out[0::2]).all() and (out[1::2] == 1.0).all()


def test_access_out_of_bounds_is_reported():
    src = """
template <typename I> __global__ void k(I n, float *x) { x[threadIdx.x] = 1.0f; }
template <typename I> __global__ void r(I n, float *x, float const *y)
{ x[threadIdx.x] = y[threadIdx.x + 1] * (threadIdx.x + 1 < n); }
POLYK_EXPORT int f(int64_t n, float *x) { k<int32_t><<<1, n + 1>>>(n, x); return 0; }
POLYK_EXPORT int g(int64_t n, float *x, float const *y) { r<int32_t><<<1, n>>>(n, x, y); return 0; }
"""
    x = np.zeros(10, dtype=np.float32)
    # the element after the array is in an inaccessible page: the access faults
    with pytest.raises(EmulationError, match="faulted.*past the end of x.*element 10"):
        _run(src, "f", [10, x], names=["n", "x"], guard="end")
    # the array starts a page, the bytes after it are 0xFF: the write is found after the run
    with pytest.raises(EmulationError, match="write past the end of x.*element 10 written"):
        _run(src, "f", [10, x], names=["n", "x"], guard="start")
    assert (x == 0).all()
    x = np.zeros(11, dtype=np.float32)
    _run(src, "f", [10, x])
    assert (x == 1).all()
    # a read out of bounds (its value multiplied by 0), which the 0xFF bytes alone miss
    y = np.arange(10, dtype=np.float32)
    with pytest.raises(EmulationError, match="faulted.*past the end of y.*element 10"):
        _run(src, "g", [10, np.zeros(10, np.float32), y], names=["n", "x", "y"])


def test_divergent_barrier_is_reported():
    src = """
template <typename I> __global__ void k(double *x)
{ if (threadIdx.x < 16) { __syncthreads(); } x[threadIdx.x] = 1; }
POLYK_EXPORT int f(double *x) { k<int><<<2, 32>>>(x); return (int)cudaPeekAtLastError(); }
"""
    for threads in ("concurrent", "forward"):
        with pytest.raises(EmulationError, match="different __syncthreads"):
            _run(src, "f", [np.zeros(32)], threads=threads)


def test_bad_launch_configuration_is_reported():
    src = """
template <typename I> __global__ void k(double *x) { x[0] = 1; }
POLYK_EXPORT int f(double *x, int64_t t) { k<int><<<1, t>>>(x); return (int)cudaPeekAtLastError(); }
"""
    x = np.zeros(1)
    with pytest.raises(EmulationError, match="invalid launch configuration"):
        _run(src, "f", [x, 1025])
    assert x[0] == 0
    _run(src, "f", [x, 1024])
    assert x[0] == 1


def test_block_order_dependence_is_visible():
    """Block 0 writes what block 1 reads: correct only when block 0 happens to run first."""
    src = """
template <typename I> __global__ void k(double *x)
{ if (threadIdx.x == 0) { if (blockIdx.x == 0) x[0] = 5; else x[1] = x[0] + 1; } }
POLYK_EXPORT int f(double *x) { k<int><<<2, 32>>>(x); return (int)cudaPeekAtLastError(); }
"""
    x = np.zeros(2)
    _run(src, "f", [x], blocks="forward")
    assert x[1] == 6
    x = np.zeros(2)
    _run(src, "f", [x], blocks="reverse")
    assert x[1] == 1


def test_scalars_device_globals_and_types():
    src = """
__device__ double g_alpha;
template <typename I> __global__ void k(I n, float b, int32_t c, double *x)
{ const int64_t i = blockIdx.y * gridDim.x * blockDim.x + blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = g_alpha * i + b + c + (sizeof(I) == 8 ? 1000 : 0); }
POLYK_EXPORT int f(int64_t n, double alpha, float b, int32_t c, double *x, int64_t wide)
{ cudaError_t e = cudaMemcpyToSymbol(g_alpha, &alpha, sizeof(alpha));
  if (e != cudaSuccess) return (int)e;
  dim3 grid(4, (n + 127) / 128);
  if (wide) k<int64_t><<<grid, 32>>>(n, b, c, x); else k<int32_t><<<grid, 32>>>(n, b, c, x);
  return (int)cudaPeekAtLastError(); }
"""
    for wide in (0, 1):
        x = np.zeros(300)
        _run(src, "f", [300, 2.0, np.float32(0.5), ctypes.c_int32(3), x, wide],
             blocks="shuffle")
        assert np.array_equal(x, 2.0 * np.arange(300) + 3.5 + 1000 * wide)


def test_shared_arrays_are_per_library():
    """Two libraries with the same template kernel and different shared arrays (as two
    option sets of one op give) keep their own arrays when loaded in one process."""
    tmpl = """
template <typename I> __global__ void k(double *x)
{ __shared__ double s[N]; s[threadIdx.x] = threadIdx.x; __syncthreads();
  x[threadIdx.x] = s[N - 1 - threadIdx.x]; }
POLYK_EXPORT int f(double *x) { k<int><<<1, N>>>(x); return (int)cudaPeekAtLastError(); }
"""
    for n in (8, 64, 8):
        x = np.zeros(n)
        _run(tmpl.replace("N", str(n)), "f", [x], isolate=False)
        assert np.array_equal(x, np.arange(n)[::-1])


def test_crash_and_hang_are_errors():
    src = """
template <typename I> __global__ void k(double *x, int64_t far) { x[far] = 1; }
template <typename I> __global__ void spin(volatile double *x) { while (x[0] == 0) {} }
POLYK_EXPORT int f(double *x, int64_t far) { k<int><<<1, 1>>>(x, far); return 0; }
POLYK_EXPORT int g(double *x) { spin<int><<<1, 2>>>(x); return 0; }
"""
    with pytest.raises(EmulationError, match="faulted.*outside every array"):
        _run(src, "f", [np.zeros(1), -(1 << 40)])
    with pytest.raises(EmulationError, match="did not finish"):
        _run(src, "g", [np.zeros(1)], timeout=3)


NI, NJ, NK = polyk.params("NI NJ NK")


@polyk.op
def gemm_gapped_k(C: polyk.f64[NI, NJ], A: polyk.f64[NI, NK], B: polyk.f64[NK, NJ]):
    for i in range(NI):
        for k in range(NK):
            for j in range(NJ):
                if k <= 30 or k >= 60:
                    C[i, j] += A[i, k] * B[k, j]


def _gapped_reference(C, A, B, NI, NJ, NK):
    keep = np.r_[0:min(31, NK), 60:NK]
    C += A[:, keep] @ B[keep, :]


def test_copy_loop_printed_as_sibling_loops():
    """isl prints the k tile loop of this product as two loops (the tiles before and after
    the gap); each gets its own prefetch registers in its own scope (a regression: they
    were declared twice in one scope, which nvcc refuses) and the results are right."""
    k = polyk.generate(gemm_gapped_k, target="cuda", compile=False)
    assert k.source.count("polyk_pf_A[4];") == 2
    polyk.check(EmulatedKernel(k), _gapped_reference, dict(NI=40, NJ=36, NK=90))


@polyk.op
def gemm_one_tile_then_gap(C: polyk.f64[NI, NJ], A: polyk.f64[NI, NK], B: polyk.f64[NK, NJ]):
    for i in range(NI):
        for k in range(NK):
            for j in range(NJ):
                if k <= 2 or k >= 20:
                    C[i, j] += A[i, k] * B[k, j]


def _one_tile_reference(C, A, B, NK):
    keep = np.r_[0:min(3, NK), 20:NK]
    C += A[:, keep] @ B[keep, :]


def test_kernel_without_a_copy_level_loop():
    """isl prints no loop for the first k tile here (its value is known: 0), so a shared
    copy has no place to go; that kernel is printed without shared memory (noted) instead
    of reading tiles it never copied (the source used to name an undefined iterator)."""
    k = polyk.generate(gemm_one_tile_then_gap, target="cuda", compile=False)
    assert "polyk_sh_" not in k.source
    assert any("shared memory off" in n for n in k.schedule.notes)
    polyk.check(EmulatedKernel(k), _one_tile_reference, dict(NI=40, NJ=36, NK=50))
