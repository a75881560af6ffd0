"""Polly as a comparison point: compile polyk's untransformed C with clang + Polly.

The source is the identity kernel's (``k.source`` of ``scheduler="identity"``), so Polly
sees exactly the loop nest that the gcc baseline runs. The object is loaded with ctypes and
called with the same arguments as polyk's kernel (parameters first, as int64, then the
op's arguments: arrays as pointers, scalars by value), bound and checked by the identity
kernel's own ``bind``.

Parallel Polly (``-polly-parallel``) emits calls to the GNU OpenMP runtime (GOMP_*); we
link it against libgomp (``-fopenmp=libgomp``), the runtime gcc's kernels use, so that
``polyk.openmp_threads(n)`` sets its thread count too.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

CLANGS = ("clang-16", "clang")

POLLY_FLAGS = ("-mllvm", "-polly", "-mllvm", "-polly-tiling",
               "-mllvm", "-polly-vectorizer=stripmine")
PARALLEL_FLAGS = ("-mllvm", "-polly-parallel", "-fopenmp=libgomp")

_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "i32": ctypes.c_int32}


def base_flags() -> tuple[str, ...]:
    """polyk's own base flags (-O3 -march=native -fPIC -shared ...), so only the compiler
    and Polly differ from the gcc baseline."""
    from polyk.codegen.jit import BASE_FLAGS
    return tuple(BASE_FLAGS)


def find_clang() -> str | None:
    """A clang that accepts ``-mllvm -polly``, or None."""
    for name in CLANGS:
        path = shutil.which(name)
        if path is None:
            continue
        probe = subprocess.run([path, "-mllvm", "-polly", "-x", "c", "-c", "-o", os.devnull,
                                "-"], input="int f(void){return 0;}", capture_output=True,
                               text=True)
        if probe.returncode == 0:
            return path
    return None


def version(clang: str) -> str:
    out = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else clang


def build(source: str, clang: str, *, parallel: bool, polly: bool = True,
          workdir: str | None = None) -> str:
    """Compile ``source`` with clang + Polly (or, ``polly=False``, plain clang) into a
    shared object; return its path."""
    flags = base_flags() + (POLLY_FLAGS if polly else ()) + (PARALLEL_FLAGS if parallel else ())
    key = hashlib.sha256((source + "\0" + " ".join(flags) + "\0" + clang).encode())
    workdir = workdir or tempfile.mkdtemp(prefix="polyk-polly-")
    stem = os.path.join(workdir, key.hexdigest()[:24])
    src, so = stem + ".c", stem + ".so"
    if os.path.exists(so):
        return so
    with open(src, "w") as f:
        f.write(source)
    cmd = [clang, *flags, src, "-o", so, "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"clang + Polly failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    return so


class PollyKernel:
    """A callable with the calling convention of ``identity_kernel``, running ``so_path``."""

    def __init__(self, identity_kernel, so_path: str):
        self._k = identity_kernel
        cf = identity_kernel.cfunction
        self._lib = ctypes.CDLL(so_path)
        fn = getattr(self._lib, cf.name)
        fn.argtypes = ([ctypes.c_int64 for _ in cf.params]
                       + [ctypes.c_void_p if a.is_array else _CTYPES[a.dtype.name]
                          for a in cf.args])
        fn.restype = None
        self._fn = fn

    def __call__(self, *args, **kwargs) -> None:
        b = self._k.bind(args, kwargs)
        cf = self._k.cfunction
        cargs = [int(b.params[p]) for p in cf.params]
        for a in cf.args:
            v = b.values[a.name]
            cargs.append(v.ctypes.data if a.is_array else v)
        self._fn(*cargs)
