"""The kernel cache under faults, beyond tests/test_cache.py: processes compiling the same
kernels at once, entries damaged in every way (the object, its metadata, another kernel's
object in its place, a change after verification), an unwritable location, and a compiler
upgraded in place. In every case each caller gets a kernel that computes the right thing."""

from __future__ import annotations

import glob
import json
import multiprocessing
import os
import shutil
import stat

import numpy as np
import pytest

import polyk
from polyk import f64
from polyk.codegen import jit

N = polyk.params("N")

SOURCES = {
    "axpy": "def axpy(a: f64, x: f64[N], y: f64[N]):\n"
            "    for i in range(N):\n        y[i] += a * x[i]\n",
    "shift": "def shift(x: f64[N + 1], y: f64[N]):\n"
             "    for i in range(N):\n        y[i] = x[i + 1] - x[i]\n",
    "prefix": "def prefix(y: f64[N]):\n"
              "    for i in range(1, N):\n        y[i] += y[i - 1]\n",
}


def _op(name):
    return polyk.Op.from_source(SOURCES[name], namespace={"f64": f64, "N": N})


def _run_and_compare(name, k, n=9):
    """Run kernel ``k`` of op ``name`` and the op as Python; max abs difference."""
    op = _op(name)
    args = op.make_inputs({"N": n}, seed=5)
    got = {a: v.copy() if isinstance(v, np.ndarray) else v for a, v in args.items()}
    want = {a: v.copy() if isinstance(v, np.ndarray) else v for a, v in args.items()}
    k(**got)
    op(**want)
    return max(float(np.max(np.abs(got[a] - want[a]))) for a in got
               if isinstance(got[a], np.ndarray))


def _gen(name, **kw):
    """Generate without fused multiply-add: results bitwise those of Python."""
    return polyk.generate(_op(name), **{"fp_contract": False, **kw})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("POLYK_CACHE_DIR", str(d))
    monkeypatch.delenv("POLYK_NO_CACHE", raising=False)
    return d


# ---------------------------------------------------------------- concurrent processes

def _worker(cache_dir: str, target: str):
    """In a fresh process: generate and run every kernel of SOURCES."""
    os.environ["POLYK_CACHE_DIR"] = cache_dir
    os.environ.pop("POLYK_NO_CACHE", None)
    errs = {}
    for name in SOURCES:
        k = polyk.generate(_op(name), target=target, fp_contract=False)
        errs[name] = _run_and_compare(name, k)
    return errs, dict(jit.stats)


def test_concurrent_processes_share_one_cache(tmp_path):
    """Four processes (started with 'spawn': forking after OpenMP ran can hang) compile the
    same kernels into one empty cache at once: each gets working kernels, and the cache
    ends with one valid entry per kernel and no temporary files."""
    d = str(tmp_path / "shared")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_worker, [(d, "openmp")] * 4)
    for errs, _ in results:
        assert errs == {name: 0.0 for name in SOURCES}
    compiles = sum(s["compiles"] for _, s in results)
    hits = sum(s["cache_hits"] for _, s in results)
    assert compiles + hits == 4 * len(SOURCES)
    assert compiles >= len(SOURCES)
    sos = glob.glob(os.path.join(d, "*.so"))
    assert len(sos) == len(SOURCES)
    for so in sos:
        meta = json.load(open(so[:-3] + ".json"))
        assert meta["sha256"] == jit._sha256_file(so)
    assert not glob.glob(os.path.join(d, ".tmp-*"))
    # a fifth process only reads the cache
    with ctx.Pool(1) as pool:
        [(errs, st)] = pool.starmap(_worker, [(d, "openmp")])
    assert st["compiles"] == 0 and st["cache_hits"] == len(SOURCES)


# ---------------------------------------------------------------- damaged entries

def _entry(cache_dir):
    [so] = glob.glob(str(cache_dir / "*.so"))
    return so, so[:-3] + ".json"


def _damage_meta_text(so, meta, other):
    with open(meta, "w") as f:
        f.write("{not json")


def _damage_meta_list(so, meta, other):
    with open(meta, "w") as f:
        json.dump(["key", "sha256"], f)


def _damage_meta_foreign_key(so, meta, other):
    info = json.load(open(meta))
    info["key"] = "0" * 40
    with open(meta, "w") as f:
        json.dump(info, f)


def _damage_object_missing(so, meta, other):
    os.unlink(so)


def _damage_object_empty(so, meta, other):
    open(so, "wb").close()


def _damage_object_swapped(so, meta, other):
    """Another kernel's valid object (right format, wrong code) in this entry's place."""
    shutil.copyfile(other, so)


def _damage_object_and_meta_swapped(so, meta, other):
    """Another entry's object and metadata both copied over: the key inside tells."""
    shutil.copyfile(other, so)
    shutil.copyfile(other[:-3] + ".json", meta)


def _damage_one_bit(so, meta, other):
    with open(so, "r+b") as f:
        f.seek(os.path.getsize(so) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 1]))


DAMAGES = [_damage_meta_text, _damage_meta_list, _damage_meta_foreign_key,
           _damage_object_missing, _damage_object_empty, _damage_object_swapped,
           _damage_object_and_meta_swapped, _damage_one_bit]


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.__name__[8:] for d in DAMAGES])
def test_damaged_entry_is_rebuilt(cache, tmp_path, monkeypatch, damage):
    # another kernel's entry, in a cache of its own, to swap in
    other_dir = tmp_path / "other"
    monkeypatch.setenv("POLYK_CACHE_DIR", str(other_dir))
    _gen("shift")
    other, _ = _entry(other_dir)
    monkeypatch.setenv("POLYK_CACHE_DIR", str(cache))
    _gen("axpy")
    so, meta = _entry(cache)
    damage(so, meta, other)
    before = jit.stats["compiles"]
    k = _gen("axpy")
    assert jit.stats["compiles"] == before + 1
    assert _run_and_compare("axpy", k) == 0.0
    assert json.load(open(meta))["sha256"] == jit._sha256_file(so)


def test_entry_changed_after_verification_is_not_loaded(cache, tmp_path):
    """Between build() (hash checked) and load(), another writer replaces the object: the
    copy that would be loaded no longer has the verified hash, and nothing is loaded."""
    k1 = _gen("shift", compile=False)
    k2 = _gen("axpy", compile=False)
    other = jit.build(k1.source, flags=k1.options.flags())
    path = jit.build(k2.source, flags=k2.options.flags())
    shutil.copyfile(other, path)
    with pytest.raises(polyk.CompileError, match="changed after it was verified"):
        jit.load(path, k2.cfunction.name, [])
    before = jit.stats["compiles"]
    k = _gen("axpy")       # generating again rebuilds the entry
    assert jit.stats["compiles"] == before + 1 and k.so_path == path
    assert _run_and_compare("axpy", k) == 0.0


# ---------------------------------------------------------------- unwritable location

@pytest.mark.parametrize("where", ["under_a_file", "is_a_file"])
def test_unwritable_location_falls_back_with_a_warning(tmp_path, monkeypatch, where):
    """CI runs as root, which ignores chmod: a path through a regular file is unwritable
    for everyone."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    bad = blocker / "cache" if where == "under_a_file" else blocker
    monkeypatch.setenv("POLYK_CACHE_DIR", str(bad))
    monkeypatch.delenv("POLYK_NO_CACHE", raising=False)
    with pytest.warns(RuntimeWarning, match="not writable") as rec:
        k = _gen("prefix")
    assert str(bad) in str(rec[0].message)
    assert _run_and_compare("prefix", k) == 0.0
    assert os.path.dirname(k.so_path) == jit._fallback_dir()
    before = jit.stats["compiles"]
    with pytest.warns(RuntimeWarning):
        _gen("prefix")
    assert jit.stats["compiles"] == before        # the fallback is a cache too
    assert blocker.read_text() == "x"


# ---------------------------------------------------------------- compiler upgrade

def _fake_compiler(path, version):
    real = shutil.which("gcc")
    path.write_text("#!/bin/sh\n"
                    f"if [ \"$1\" = \"--version\" ]; then echo 'gcc (polyk test) {version}'; "
                    "exit 0; fi\n"
                    f"exec {real} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_compiler_upgrade_changes_the_key(cache, tmp_path):
    cc = tmp_path / "bin" / "cc"
    cc.parent.mkdir()
    _fake_compiler(cc, "12.2.0")
    op = _op("axpy")
    before = jit.stats["compiles"]
    k_old = polyk.generate(op, cc=str(cc), fp_contract=False)
    assert jit.stats["compiles"] == before + 1
    polyk.generate(op, cc=str(cc), fp_contract=False)
    assert jit.stats["compiles"] == before + 1                  # same compiler: a hit
    _fake_compiler(cc, "13.1.0")  # upgraded in place, same path, same process
    os.utime(cc, ns=(10**18, 10**18))   # a new file time even on a coarse clock
    k_new = polyk.generate(op, cc=str(cc), fp_contract=False)
    assert jit.stats["compiles"] == before + 2
    assert k_new.so_path != k_old.so_path
    assert "13.1.0" in jit.compiler_identity(str(cc))
    assert len(glob.glob(str(cache / "*.so"))) == 2
    assert _run_and_compare("axpy", k_new) == 0.0
