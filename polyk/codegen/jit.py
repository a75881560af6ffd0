"""Compile generated C into a shared object, cache it on disk, load it with ctypes.

The cache key hashes the source, the flags, the compiler's identity (path and full version)
and the CPU that ``-march=native`` resolves to, so an entry is never served to another
compiler or machine. Entries are written atomically (temporary file, then rename) and carry
the SHA-256 of the object, checked before loading: a truncated or garbled entry is rebuilt.

Environment: ``POLYK_CACHE_DIR`` (default ``~/.cache/polyk``), ``POLYK_NO_CACHE=1`` (compile
into a fresh temporary directory every time), ``CC`` (default ``gcc``).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings

from ..errors import CompileError

log = logging.getLogger(__name__)

BASE_FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11", "-fwrapv",
              "-fno-math-errno")

# Counters for tests and curious users: how many compiles and cache hits this process saw.
stats = {"compiles": 0, "cache_hits": 0}
_lock = threading.Lock()


def compiler(cc: str | None = None) -> str:
    cc = cc or os.environ.get("CC") or "gcc"
    path = shutil.which(cc)
    if path is None:
        raise CompileError(f"no C compiler {cc!r} found on PATH; install gcc or set CC")
    return path


def compiler_identity(cc_path: str) -> str:
    """Path, full version text and the resolved -march=native target of a compiler.

    Asked again when the compiler's file changes (an upgrade in place while a process runs:
    the resolved file's size, time and inode are part of the memo key)."""
    try:
        st = os.stat(cc_path)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        stamp = None
    return _compiler_identity(cc_path, stamp)


@functools.lru_cache(maxsize=None)
def _compiler_identity(cc_path: str, stamp) -> str:
    try:
        version = subprocess.run([cc_path, "--version"], capture_output=True, text=True,
                                 timeout=60).stdout
        # what -march=native expands to on this machine (cc1's arguments)
        native = subprocess.run([cc_path, "-march=native", "-E", "-v", "-x", "c", os.devnull,
                                 "-o", os.devnull], capture_output=True, text=True,
                                timeout=60).stderr
    except (OSError, subprocess.SubprocessError) as e:
        raise CompileError(f"cannot run the C compiler {cc_path}: {e}") from None
    target = [ln for ln in native.splitlines() if "cc1" in ln and "-march=" in ln]
    # drop the temporary and output names, keep the target options
    target = [" ".join(w for w in ln.split() if w.startswith("-m")) for ln in target]
    return "\n".join([cc_path, version.strip(), *target])


def native_vector_bytes(cc: str | None = None) -> int:
    """The widest vector register ``-march=native`` gives this machine's compiler, in bytes
    (64 with AVX-512F, 32 with AVX, else 16): the size of the GCC vector types that register
    blocks are printed with. A wider type than the hardware's is split by gcc into several
    registers and runs many times slower (gemm's register block in 64-byte vectors on an
    AVX2-only machine: 1.6 GFLOP/s against 10.7 without register blocks). 32 when there
    is no compiler to ask (``compile=False`` on a machine without one)."""
    try:
        path = compiler(cc)
    except CompileError:
        return 32
    return _native_vector_bytes(path, compiler_identity(path))


@functools.lru_cache(maxsize=None)
def _native_vector_bytes(cc_path: str, identity: str) -> int:
    try:
        macros = subprocess.run([cc_path, "-march=native", "-dM", "-E", "-x", "c", os.devnull],
                                capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return 32
    if "__AVX512F__" in macros:
        return 64
    return 32 if "__AVX__" in macros else 16


def cache_dir() -> str:
    """The cache directory; falls back to a private temporary one if it is not writable."""
    if os.environ.get("POLYK_NO_CACHE"):
        return tempfile.mkdtemp(prefix="polyk-nocache-")
    path = os.environ.get("POLYK_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "polyk")
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True)
        probe.close()
        return path
    except OSError as e:
        fallback = _fallback_dir()
        warnings.warn(f"polyk cache {path!r} is not writable ({e}); using {fallback}",
                      RuntimeWarning, stacklevel=3)
        return fallback


@functools.lru_cache(maxsize=None)
def _fallback_dir() -> str:
    return tempfile.mkdtemp(prefix="polyk-cache-")


def cache_key(source: str, flags: tuple[str, ...], cc_path: str) -> str:
    h = hashlib.sha256()
    for part in (source, "\0".join(flags), compiler_identity(cc_path)):
        h.update(part.encode())
        h.update(b"\0\0")
    return h.hexdigest()[:40]


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _valid_entry(so: str, meta: str, key: str) -> str:
    """The entry's SHA-256 when its metadata names this key and its object has that hash;
    '' for a missing, truncated, garbled or foreign entry."""
    try:
        with open(meta) as f:
            info = json.load(f)
        digest = _sha256_file(so)
        ok = isinstance(info, dict) and info.get("key") == key and info.get("sha256") == digest
        return digest if ok else ""
    except (OSError, ValueError):
        return ""


def build(source: str, *, flags: tuple[str, ...] = (), cc: str | None = None,
          libs: tuple[str, ...] = ("-lm",)) -> str:
    """Path of a shared object compiled from ``source`` (from the cache when possible)."""
    cc_path = compiler(cc)
    all_flags = tuple(BASE_FLAGS) + tuple(flags)
    key = cache_key(source, all_flags + tuple(libs), cc_path)
    d = cache_dir()
    so, meta, src = (os.path.join(d, f"{key}{ext}") for ext in (".so", ".json", ".c"))
    with _lock:
        digest = _valid_entry(so, meta, key)
        if digest:
            stats["cache_hits"] += 1
            _verified[so] = digest
            return so
        _atomic_write(src, source.encode())
        fd, tmp_so = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".so")
        os.close(fd)
        cmd = [cc_path, *all_flags, src, "-o", tmp_so, *libs]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            os.unlink(tmp_so)
            raise CompileError(f"running {' '.join(cmd)} failed: {e}", source_path=src) from None
        if proc.returncode != 0:
            os.unlink(tmp_so)
            kept = os.path.join(d, f"failed-{key}.c")
            shutil.copyfile(src, kept)
            raise CompileError(f"{os.path.basename(cc_path)} could not compile the generated "
                               f"source (exit {proc.returncode}): {' '.join(cmd)}",
                               source_path=kept, stderr=proc.stderr)
        digest = _sha256_file(tmp_so)
        os.replace(tmp_so, so)
        _atomic_write(meta, json.dumps({"key": key, "sha256": digest,
                                        "flags": list(all_flags)}).encode())
        stats["compiles"] += 1
        _verified[so] = digest
        log.debug("compiled %s in %.2f s", so, time.perf_counter() - t0)
        return so


_loaded: dict[str, ctypes.CDLL] = {}
_verified: dict[str, str] = {}      # cache path -> SHA-256 that build() checked or wrote


@functools.lru_cache(maxsize=None)
def _private_dir() -> str:
    return tempfile.mkdtemp(prefix="polyk-loaded-")


def load(path: str, symbol: str, argtypes: list):
    """The C function ``symbol`` of a shared object, with ctypes argument types set.

    The object is loaded from a private copy named by its content hash: ``dlopen`` caches
    libraries by path (a rebuilt cache entry keeps its path), and a cache file damaged while
    mapped would take the process down with it.
    """
    with _lock:
        # copy first, then hash the copy: what is loaded is what was hashed, even if another
        # process replaces the cache file meanwhile; it must be what build() verified
        fd, tmp = tempfile.mkstemp(dir=_private_dir(), suffix=".so")
        os.close(fd)
        shutil.copyfile(path, tmp)
        digest = _sha256_file(tmp)
        expected = _verified.get(path)
        if expected is not None and digest != expected:
            os.unlink(tmp)
            raise CompileError(f"the cached kernel {path} changed after it was verified "
                               "(another process wrote it?); generate the kernel again")
        lib = _loaded.get(digest)
        if lib is None:
            private = os.path.join(_private_dir(), f"{digest[:32]}.so")
            os.replace(tmp, private)
            lib = ctypes.CDLL(private)
            _loaded[digest] = lib
        else:
            os.unlink(tmp)
    fn = getattr(lib, symbol)
    fn.argtypes = argtypes
    fn.restype = None
    return fn
