"""The CUDA target: options, the pipeline from a schedule to a launcher, nvcc with a cache,
and the callable kernel.

``polyk.generate(op, target="cuda")`` schedules for outer parallelism (Pluto with
``parallel_first``), maps bands to blocks and threads (``tiling/gpu_mapping.py``), promotes
to shared memory and registers (``tiling/gpu_promotion.py``), prints CUDA C
(``codegen/cuda.py``), and compiles it with ``nvcc -O3`` into a shared object holding the
kernels and an ``extern "C"`` launcher, loaded with ctypes (no CuPy needed).

Calling the kernel: arrays may be device arrays (anything with ``__cuda_array_interface__``,
e.g. CuPy arrays and PyTorch CUDA tensors; objects with only ``__dlpack__`` go through CuPy
when it is installed) or NumPy arrays. Device arrays are used in place; the kernels are
launched on the legacy default stream (stream 0, which orders them after work queued on
CuPy's and PyTorch's default streams) and the call returns without synchronising, like a
CuPy kernel. NumPy arrays are copied to the device before and back after (every array; the
written ones back into the NumPy array), and the call synchronises: convenient and slow.

Environment: ``NVCC`` (default ``nvcc`` on PATH, then ``$CUDA_HOME/bin/nvcc``), the cache of
``jit.py`` (``POLYK_CACHE_DIR``, ``POLYK_NO_CACHE``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

from ..errors import CompileError, OptionsError, PolykError
from . import jit

log = logging.getLogger(__name__)

GPU_OPTIONS = """\
    gpu_tile       tile sizes of the mapped (parallel) members of a kernel, outer to inner;
                   a kernel mapping m members uses the last m (default: by rule, see
                   polyk.tiling.gpu_mapping.default_mapping)
    gpu_threads    threads per mapped member, aligned like gpu_tile; each divides its tile
                   (tile / threads points per thread), at most 1024 in all
    gpu_inner_tile tile size of a kernel band's sequential members (default 8: measured
                   faster than 16 for the f32 matrix product on an H100)
    gpu_vector     consecutive points of a mapped loop per thread in kernels with register
                   tiles (default None: 16 bytes of the tiles' element type, 4 floats or 2
                   doubles, where that divides the thread's points; 1: threads interleave
                   point by point); shared buffers read at those points are stored
                   transposed where needed so the reads are 16-byte loads
    shared         copy read-only arrays with reuse across threads into shared memory:
                   "auto" (default: where several threads read an element and the kernel
                   has an inner tile loop), True (every read-only array whose box fits),
                   False
    registers      keep per-thread elements of arrays accessed only at the thread's own
                   points in registers (default True)
    prefetch       software-pipeline the shared-memory copies: each thread loads its elements
                   of the next tile into registers while the current tile computes (default
                   True; off where a thread would hold more than 32 elements)
    min_blocks     blocks a multiprocessor should hold at once: ``__launch_bounds__(threads,
                   min_blocks)`` on the parallel kernels, so ptxas keeps registers (spilling
                   if it must) within what that many blocks leave each thread (default None:
                   2 for kernels with register tiles and at most 256 threads, else no bound
                   beyond the block size; 1: none)
    unroll         #pragma unroll N on the innermost sequential loops of kernels (default
                   None: nvcc decides)
    cuda_arch      e.g. "sm_90" (default: the device's own where one is found, else sm_90)
    cflags         (shared with the C targets) extra nvcc flags; -DPOLYK_INDEX64 keeps the
                   kernels' indices 64-bit (by default they are 32-bit where parameters stay
                   within 2^24 and arrays within 2^30 elements, decided at each call)
"""

SMEM_DEFAULT = 48 * 1024
# cudaDeviceAttr values
ATTR_SMEM_PER_BLOCK = 8
ATTR_MULTIPROCESSORS = 16
ATTR_CC_MAJOR = 75
ATTR_CC_MINOR = 76


class CudaError(PolykError, RuntimeError):
    """nvcc missing, no GPU, or a CUDA call that failed."""


def _positive_tuple(name, value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value or len(value) > 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise OptionsError(f"{name} must be a tuple of 1 to 3 positive integers, got {value!r}")
    return tuple(value)


def _positive_int(name, value, none_ok=True) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OptionsError(f"{name} must be a positive integer{' or None' if none_ok else ''}"
                           f", got {value!r}")


def check_gpu_options(opts) -> None:
    """Validate (and normalise) the CUDA options of an ``Options``."""
    tile = _positive_tuple("gpu_tile", opts.gpu_tile)
    threads = _positive_tuple("gpu_threads", opts.gpu_threads)
    object.__setattr__(opts, "gpu_tile", tile)
    object.__setattr__(opts, "gpu_threads", threads)
    if threads is not None and math.prod(threads) > 1024:
        raise OptionsError(f"gpu_threads {threads} asks for {math.prod(threads)} threads per "
                           "block; CUDA allows at most 1024")
    if tile is not None and threads is not None:
        for t, n in zip(reversed(tile), reversed(threads)):
            if t % n:
                raise OptionsError(f"gpu_tile {tile} and gpu_threads {threads}: each tile size "
                                   f"must be a multiple of its thread count ({t} is not a "
                                   f"multiple of {n}), the points of a tile are dealt to its "
                                   "threads evenly")
    _positive_int("gpu_inner_tile", opts.gpu_inner_tile, none_ok=False)
    if opts.shared not in ("auto", True, False):
        raise OptionsError(f"shared must be 'auto', True or False, got {opts.shared!r}")
    for name in ("registers", "prefetch"):
        if not isinstance(getattr(opts, name), bool):
            raise OptionsError(f"{name} must be True or False, got {getattr(opts, name)!r}")
    for name in ("gpu_vector", "min_blocks", "unroll"):
        _positive_int(name, getattr(opts, name))
    if opts.cuda_arch is not None and not (isinstance(opts.cuda_arch, str) and
                                           opts.cuda_arch.startswith("sm_") and
                                           opts.cuda_arch[3:].rstrip("a").isdigit()):
        raise OptionsError(f"cuda_arch must look like 'sm_90', got {opts.cuda_arch!r}")
    if opts.target == "cuda":
        if opts.tile not in (False, None):
            raise OptionsError("target='cuda' tiles for blocks and threads itself: give "
                               "gpu_tile=/gpu_threads= instead of tile=")
        if opts.l2_tile not in (False, None):
            raise OptionsError("target='cuda' takes no l2_tile")


# ---------------------------------------------------------------------- the device

@functools.lru_cache(maxsize=None)
def _cudart():
    """The CUDA runtime library through ctypes, or None."""
    import glob
    import importlib.util
    names = ["libcudart.so", "libcudart.so.13", "libcudart.so.12"]
    home = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
    names += [os.path.join(home, "lib64", n) for n in names[:]]
    nvcc = shutil.which(os.environ.get("NVCC", "nvcc"))
    if nvcc:
        names += sorted(glob.glob(os.path.join(os.path.dirname(os.path.realpath(nvcc)), "..",
                                               "lib*", "libcudart.so*")))
    for pkg in ("nvidia.cuda_runtime", "nvidia"):
        try:
            spec = importlib.util.find_spec(pkg)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            names += sorted(glob.glob(os.path.join(loc, "**", "libcudart.so*"),
                                      recursive=True))
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=None)
def device_attributes() -> dict | None:
    """Shared memory per block, multiprocessors and compute capability of device 0, or
    None where no GPU (or no CUDA runtime) is found."""
    lib = _cudart()
    if lib is None:
        return None
    out = {}
    for key, attr in (("smem_per_block", ATTR_SMEM_PER_BLOCK),
                      ("multiprocessors", ATTR_MULTIPROCESSORS),
                      ("cc_major", ATTR_CC_MAJOR), ("cc_minor", ATTR_CC_MINOR)):
        v = ctypes.c_int()
        try:
            if lib.cudaDeviceGetAttribute(ctypes.byref(v), attr, 0) != 0:
                return None
        except AttributeError:
            return None
        out[key] = v.value
    return out


def default_arch() -> str:
    props = device_attributes()
    if props:
        return f"sm_{props['cc_major']}{props['cc_minor']}"
    return "sm_90"


# ---------------------------------------------------------------------- nvcc and the cache

def nvcc_path() -> str:
    cand = os.environ.get("NVCC") or shutil.which("nvcc")
    if not cand:
        home = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
        p = os.path.join(home, "bin", "nvcc")
        cand = p if os.path.exists(p) else None
    if not cand:
        raise CompileError("no CUDA compiler: nvcc is not on PATH (set NVCC or CUDA_HOME); "
                           "polyk.generate(op, target='cuda', compile=False) still gives the "
                           "source, and the C/OpenMP targets need no nvcc")
    return cand


@functools.lru_cache(maxsize=None)
def nvcc_identity(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise CompileError(f"cannot run nvcc ({path}): {e}") from None
    return path + "\n" + out.strip()


def nvcc_flags(arch: str, extra=()) -> tuple:
    num = arch[3:]
    return ("-O3", "-std=c++17", "-Xcompiler", "-fPIC", "-shared", "-diag-suppress=177",
            f"-gencode=arch=compute_{num},code=[sm_{num},compute_{num}]") + tuple(extra)


def build(source: str, *, arch: str, extra=()) -> str:
    """Path of a shared object built from CUDA ``source`` (cached like jit.build)."""
    nvcc = nvcc_path()
    flags = nvcc_flags(arch, extra)
    h = hashlib.sha256()
    for part in (source, "\0".join(flags), nvcc_identity(nvcc)):
        h.update(part.encode())
        h.update(b"\0\0")
    key = "cu-" + h.hexdigest()[:40]
    d = jit.cache_dir()
    so, meta, src = (os.path.join(d, f"{key}{ext}") for ext in (".so", ".json", ".cu"))
    with jit._lock:
        if jit._valid_entry(so, meta, key):
            jit.stats["cache_hits"] += 1
            return so
        jit._atomic_write(src, source.encode())
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".so")
        os.close(fd)
        cmd = [nvcc, *flags, src, "-o", tmp]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as e:
            os.unlink(tmp)
            raise CompileError(f"running {' '.join(cmd)} failed: {e}", source_path=src) from None
        if proc.returncode != 0:
            os.unlink(tmp)
            kept = os.path.join(d, f"failed-{key}.cu")
            shutil.copyfile(src, kept)
            raise CompileError(f"nvcc could not compile the generated CUDA (exit "
                               f"{proc.returncode}): {' '.join(cmd)}", source_path=kept,
                               stderr=proc.stderr)
        digest = jit._sha256_file(tmp)
        os.replace(tmp, so)
        jit._atomic_write(meta, json.dumps({"key": key, "sha256": digest,
                                            "flags": list(flags)}).encode())
        jit.stats["compiles"] += 1
        log.debug("nvcc built %s in %.2f s", so, time.perf_counter() - t0)
        return so


# ---------------------------------------------------------------------- the pipeline

def generate_cuda(op, opts):
    """``polyk.generate`` for target="cuda" (see the module text)."""
    from ..kernel import Kernel  # noqa: F401  (the base class)
    from ..pipeline import schedule_scop
    from ..schedule import Schedule, check_schedule
    from ..schedule.parallel import mark_coincident
    from ..scop import compute_dependences
    from ..scop.privatize import split_for_coincidence
    from ..tiling.gpu_mapping import GpuMapper, check_or_serialise, default_mapping, \
        find_kernel_nodes
    from ..tiling.gpu_promotion import plan_promotion
    from .cuda import print_cuda

    scop = op.scop(sizes=opts.sizes, assume=opts.assume)
    deps = compute_dependences(scop, timeout=opts.schedule_timeout)
    plain = {k: v for k, v in (("target", "c"), ("simd", False), ("tile", False))
             if hasattr(opts, k)}
    sched_opts = dataclasses.replace(opts, **plain)
    base = schedule_scop(scop, deps, sched_opts)
    always, scalars = split_for_coincidence(scop, deps)
    mapper = GpuMapper(always, scalars, functools.partial(default_mapping, opts))
    tree = mapper.run(base.tree)
    tree = mark_coincident(tree, always, scalars)
    check_schedule(scop, tree)
    kernels = mapper.kernels
    tree, notes = check_or_serialise(scop, tree, kernels)
    props = device_attributes()
    budget = props["smem_per_block"] if props else SMEM_DEFAULT
    plans = {}
    nodes = find_kernel_nodes(tree)
    for k in kernels:
        notes.extend(k.notes)
        if not k.serial:
            plans[k.index] = plan_promotion(scop, k, nodes[k.index], shared=opts.shared,
                                            registers=opts.registers, smem_budget=budget,
                                            vector=opts.gpu_vector)
            notes.extend(plans[k.index].notes)
    module = print_cuda(scop, tree, kernels, plans, unroll=opts.unroll,
                        prefetch=opts.prefetch, min_blocks=opts.min_blocks)
    notes.extend(module.notes)
    schedule = Schedule(tree, base.scheduler, tuple(base.notes) + tuple(notes), base.pluto)
    so = None
    if opts.compile:
        so = build(module.text, arch=opts.cuda_arch or default_arch(), extra=opts.cflags)
    return CudaKernel(op, scop, deps, schedule, module, opts, so)


# ---------------------------------------------------------------------- the kernel

_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "i32": ctypes.c_int32}


class _DeviceArray:
    """What binding needs of a device array: dtype, shape, contiguity, its pointer."""

    def __init__(self, obj, iface):
        self.obj = obj
        self.__cuda_array_interface__ = iface
        self.shape = tuple(iface["shape"])
        self.ndim = len(self.shape)
        self.dtype = np.dtype(iface["typestr"])
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.ptr = int(iface["data"][0])
        strides = iface.get("strides")
        contiguous = strides is None or tuple(strides) == _c_strides(self.shape, self.dtype)
        self.flags = {"C_CONTIGUOUS": contiguous or self.nbytes == 0,
                      "ALIGNED": self.ptr % self.dtype.itemsize == 0,
                      "WRITEABLE": not iface["data"][1]}


def _c_strides(shape, dtype) -> tuple:
    out, step = [], dtype.itemsize
    for n in reversed(shape):
        out.append(step)
        step *= n
    return tuple(reversed(out))


def _as_device(v):
    iface = getattr(v, "__cuda_array_interface__", None)
    if iface is not None:
        return _DeviceArray(v, iface)
    if hasattr(v, "__dlpack__") and not isinstance(v, np.ndarray):
        try:
            import cupy
            c = cupy.from_dlpack(v)
            return _DeviceArray(c, c.__cuda_array_interface__)
        except Exception:   # noqa: BLE001 - not a device array CuPy can see
            return v
    return v


from ..kernel import Kernel  # noqa: E402


class CudaKernel(Kernel):
    """A kernel for target="cuda". ``k.source`` is the CUDA file (kernels and launcher);
    ``k.launch_config`` lists, per launched kernel, its grid (C expressions of the
    parameters and of the host loops around the launch, x first) and block sizes."""

    def __init__(self, op, scop, deps, schedule, module, options, so_path=None):
        super().__init__(op, scop, deps, schedule, module, options, None)
        self.module = module
        self.so_path = so_path
        self._lib = None
        if so_path is not None:
            argtypes = [ctypes.c_int64 for _ in module.params]
            for a in module.args:
                argtypes.append(ctypes.c_void_p if a.is_array else _CTYPES[a.dtype.name])
            self._fn = jit.load(so_path, module.name, argtypes)
            self._fn.restype = ctypes.c_int
            self._lib = jit._loaded[jit._sha256_file(so_path)]
            self._lib.polyk_cuda_error.restype = ctypes.c_char_p
            self._lib.polyk_cuda_error.argtypes = [ctypes.c_int]
            self._lib.polyk_cuda_malloc.argtypes = [ctypes.POINTER(ctypes.c_void_p),
                                                    ctypes.c_size_t]
            for f in ("polyk_cuda_h2d", "polyk_cuda_d2h"):
                getattr(self._lib, f).argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_size_t]
            self._lib.polyk_cuda_free.argtypes = [ctypes.c_void_p]

    @property
    def launch_config(self) -> list[dict]:
        return [lc.as_dict() for lc in self.module.launch_config]

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            msg = self._lib.polyk_cuda_error(code).decode(errors="replace")
            hint = " (no CUDA device here?)" if code in (35, 100, 999) else ""
            raise CudaError(f"{self.name}: {what} failed: {msg} (code {code}){hint}")

    def synchronize(self) -> None:
        """Wait for the launched kernels and raise on an error they met."""
        self._check(self._lib.polyk_cuda_sync(), "the kernel")

    def __call__(self, *args, **kwargs) -> None:
        if self._fn is None:
            raise RuntimeError(f"kernel {self.name} was generated with compile=False; "
                               "generate it again with compile=True to run it")
        args = tuple(_as_device(a) for a in args)
        kwargs = {k: _as_device(v) for k, v in kwargs.items()}
        from ..binding import bind_arguments
        b = bind_arguments(self.scop.program, args, kwargs, context=self.scop.context,
                           fixed=self.scop.fixed, written=self.scop.written_arrays,
                           is_array=lambda x: isinstance(x, (np.ndarray, _DeviceArray)))
        cargs = [int(b.params[p]) for p in self.module.params]
        copies = []      # (numpy array, device pointer)
        try:
            for a in self.module.args:
                v = b.values[a.name]
                if not a.is_array:
                    cargs.append(v)
                elif isinstance(v, _DeviceArray):
                    cargs.append(v.ptr)
                else:
                    p = ctypes.c_void_p()
                    self._check(self._lib.polyk_cuda_malloc(ctypes.byref(p), v.nbytes),
                                f"allocating {a.name} on the device")
                    copies.append((a.name, v, p.value))
                    self._check(self._lib.polyk_cuda_h2d(p.value, v.ctypes.data, v.nbytes),
                                f"copying {a.name} to the device")
                    cargs.append(p.value)
            self._check(self._fn(*cargs), "launching")
            if copies:
                self.synchronize()
                for name, v, p in copies:
                    if name in self.scop.written_arrays:
                        self._check(self._lib.polyk_cuda_d2h(v.ctypes.data, p, v.nbytes),
                                    f"copying {name} back")
        finally:
            for _, _, p in copies:
                self._lib.polyk_cuda_free(p)
