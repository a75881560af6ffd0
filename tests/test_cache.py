"""The compiled-kernel cache: reuse, corruption, keys, compiler failures."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

import polyk
from polyk import f64
from polyk.codegen import jit

N = polyk.params("N")


@polyk.op
def axpy(a: f64, x: f64[N], y: f64[N]):
    for i in range(N):
        y[i] += a * x[i]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("POLYK_NO_CACHE", raising=False)
    return tmp_path


def _run(k):
    x, y = np.arange(5.0), np.ones(5)
    k(2.0, x, y)
    np.testing.assert_array_equal(y, 1 + 2 * np.arange(5.0))


def test_second_generate_compiles_nothing(cache):
    before = dict(jit.stats)
    _run(polyk.generate(axpy))
    assert jit.stats["compiles"] == before["compiles"] + 1
    _run(polyk.generate(axpy))
    assert jit.stats["compiles"] == before["compiles"] + 1
    assert jit.stats["cache_hits"] == before["cache_hits"] + 1


def test_corrupted_entry_is_rebuilt(cache):
    polyk.generate(axpy)
    [so] = glob.glob(str(cache / "*.so"))
    with open(so, "r+b") as f:     # truncate the object: a torn or damaged entry
        f.truncate(100)
    before = jit.stats["compiles"]
    k = polyk.generate(axpy)
    assert jit.stats["compiles"] == before + 1
    assert os.path.getsize(so) > 100
    _run(k)


def test_garbage_entry_is_rebuilt(cache):
    polyk.generate(axpy)
    [so] = glob.glob(str(cache / "*.so"))
    size = os.path.getsize(so)
    with open(so, "wb") as f:
        f.write(os.urandom(size))
    before = jit.stats["compiles"]
    _run(polyk.generate(axpy))
    assert jit.stats["compiles"] == before + 1


def test_flags_are_part_of_the_key(cache):
    polyk.generate(axpy)
    before = jit.stats["compiles"]
    polyk.generate(axpy, fp_contract=False)
    assert jit.stats["compiles"] == before + 1
    assert len(glob.glob(str(cache / "*.so"))) == 2


def test_key_covers_compiler_identity():
    ident = jit.compiler_identity(jit.compiler())
    assert "-march=" in ident          # the resolved CPU, not the word "native"
    assert "native" not in ident.split("\n", 2)[-1]
    k1 = jit.cache_key("int x;", (), jit.compiler())
    assert k1 != jit.cache_key("int y;", (), jit.compiler())
    assert k1 != jit.cache_key("int x;", ("-O2",), jit.compiler())


def test_no_cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("POLYK_NO_CACHE", "1")
    before = jit.stats["compiles"]
    _run(polyk.generate(axpy))
    _run(polyk.generate(axpy))
    assert jit.stats["compiles"] == before + 2
    assert not glob.glob(str(tmp_path / "*.so"))


def test_compile_error_shows_message_and_source(cache):
    with pytest.raises(polyk.CompileError) as e:
        polyk.generate(axpy, cflags=("-fno-such-flag-polyk",))
    msg = str(e.value)
    assert "no-such-flag-polyk" in msg          # the compiler's own words
    assert e.value.source_path and os.path.exists(e.value.source_path)
    assert "polyk_axpy" in open(e.value.source_path).read()


def test_missing_compiler_is_a_clear_error(cache):
    with pytest.raises(polyk.CompileError, match="no C compiler"):
        polyk.generate(axpy, cc="no-such-cc-polyk")
