"""The C front end: it agrees with the Python front end on the whole PolyBench suite,
``polyk compile`` round-trips every kernel, and bad C is refused with its line."""

from __future__ import annotations

import ctypes
import os
import subprocess

import islpy as isl
import numpy as np
import pytest

import polyk
import polyk.cli
from polyk.compile_c import transform_c
from polyk.kernels import LIBRARY
from polyk.kernels.polybench import NAMES, c_file
from polyk.scop import compute_dependences

from conftest import copy_args


@pytest.fixture(scope="module")
def c_ops():
    return {}


def _c_op(cache, name):
    if name not in cache:
        cache[name] = polyk.from_c(path=c_file(name))
    return cache[name]


def test_suite_has_thirty_kernels_with_c_twins():
    assert len(NAMES) == 30
    for name in NAMES:
        assert os.path.exists(c_file(name)), name


@pytest.mark.parametrize("name", NAMES)
def test_front_ends_agree(c_ops, name):
    """Same parameters, arrays, domains, accesses, original order and dependences."""
    py = LIBRARY[name].op.scop()
    cc = _c_op(c_ops, name).scop()
    assert set(py.params) == set(cc.params)
    assert py.context.is_equal(cc.context)
    for a in py.args:
        b = next(x for x in cc.args if x.name == a.name)
        assert (a.dtype, a.shape) == (b.dtype, b.shape), a.name
    assert [s.name for s in py.statements] == [s.name for s in cc.statements]
    for s, t in zip(py.statements, cc.statements):
        assert s.iterators == t.iterators
        assert s.domain.is_equal(t.domain), s.name
        got = sorted((a.kind, a.array, str(a.relation)) for a in s.accesses)
        assert len(s.accesses) == len(t.accesses), s.name
        for a in s.accesses:
            assert any(b.kind == a.kind and b.array == a.array and b.relation.is_equal(a.relation)
                       for b in t.accesses), (s.name, a)
        assert got  # every statement accesses something
    assert py.schedule_map().is_equal(cc.schedule_map())
    dp, dc = compute_dependences(py), compute_dependences(cc)
    for kind in ("flow", "anti", "output"):
        assert getattr(dp, kind).is_equal(getattr(dc, kind)), kind


# ------------------------------------------------------------------ polyk compile round trip

def _shared_object(src_path, out_dir, tag, extra=()):
    so = os.path.join(out_dir, f"{tag}.so")
    cmd = ["gcc", "-O2", "-std=gnu11", "-fPIC", "-shared", "-ffp-contract=off", *extra,
           src_path, "-o", so, "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(so)


def _call(lib, fname, op, values, sizes):
    args = [ctypes.c_int(sizes[p]) for p in _c_params(op)]
    for a in op.args:
        v = values[a.name]
        if a.is_array:
            args.append(ctypes.c_void_p(v.ctypes.data))
        else:
            args.append({"f64": ctypes.c_double, "f32": ctypes.c_float,
                         "i32": ctypes.c_int, "i64": ctypes.c_int64}[a.dtype.name](v))
    getattr(lib, fname)(*args)


def _c_params(op):
    return op.params


@pytest.mark.parametrize("name", NAMES)
def test_polyk_compile_round_trip(c_ops, name, tmp_path):
    """The transformed file compiles, runs and gives the original file's results
    (bitwise: no reassociation, no contraction)."""
    path = c_file(name)
    text = open(path).read()
    out = transform_c(text, path, target="openmp")
    assert "#pragma scop" not in out and "polyk: pluto schedule" in out
    before, after = text.split("#pragma scop")[0], out
    # everything before the function is untouched
    assert after.startswith(before.split("void kernel_")[0])
    new = tmp_path / "out.c"
    new.write_text(out)
    orig = _shared_object(path, str(tmp_path), "orig")
    trans = _shared_object(str(new), str(tmp_path), "trans", ("-fopenmp",))
    op = _c_op(c_ops, name)
    spec = LIBRARY[name]
    sizes = spec.sizes["test"]
    inp = spec.op.make_inputs(sizes, seed=5)
    a, b = copy_args(inp), copy_args(inp)
    fname = f"kernel_{os.path.splitext(os.path.basename(path))[0]}"
    _call(orig, fname, op, a, sizes)
    _call(trans, fname, op, b, sizes)
    for arg in op.args:
        if arg.is_array:
            np.testing.assert_array_equal(a[arg.name], b[arg.name], err_msg=arg.name)


def test_compile_command_writes_file(tmp_path):
    out = tmp_path / "gemm_t.c"
    rc = polyk.cli.main(["compile", c_file("gemm"), "--target", "openmp", "--fuse", "max",
                         "-o", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "omp parallel for" in text and "kernel_gemm(" in text


def test_compile_command_reports_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.c"
    bad.write_text("void f(int N, double A[N]) {\n  int i;\n#pragma scop\n"
                   "  for (i = 0; i < N; i++)\n    A[i * i] = 0;\n#pragma endscop\n}\n")
    rc = polyk.cli.main(["compile", str(bad)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "line 5" in err and "not affine" in err


def test_c_op_runs_as_written():
    op = polyk.from_c(text="void f(int N, double x[N]) {\n  int i;\n#pragma scop\n"
                           "  for (i = 1; i < N; i++)\n    x[i] = x[i - 1] + x[i];\n"
                           "#pragma endscop\n}\n")
    x = np.arange(6.0)
    op(x)
    np.testing.assert_array_equal(x, np.cumsum(np.arange(6.0)))


def test_c_semantics_are_kept():
    """C's typing, not NumPy's: float literals are double, int division truncates."""
    op = polyk.from_c(text="""
void f(int N, float y[N], int q[N]) {
  int i;
#pragma scop
  for (i = 0; i < N; i++) {
    y[i] = y[i] * 0.1;
    q[i] = (q[i] - 7) / 2 + (q[i] - 7) % 3;
  }
#pragma endscop
}""")
    k = polyk.generate(op, fp_contract=False)
    y = np.full(4, 3.0, dtype=np.float32)
    q = np.array([0, 1, 2, 30], dtype=np.int32)
    k(y, q)
    assert y[0] == np.float32(np.float64(np.float32(3.0)) * 0.1)   # computed in double
    exp = [int((v - 7) / 2) + int(np.fmod(v - 7, 3)) for v in (0, 1, 2, 30)]  # truncation
    assert list(q) == exp


def test_c_division_in_subscript_needs_nonnegative_numerator():
    ok = "void f(int N, double x[N]) {\n int i;\n#pragma scop\n for (i = 0; i < N; i++)\n" \
         "  x[i / 2] = 1.0;\n#pragma endscop\n}\n"
    polyk.from_c(text=ok).scop()
    bad = ok.replace("x[i / 2]", "x[(i - 3) / 2 + 1]")
    with pytest.raises(polyk.NotAffineError) as e:
        polyk.from_c(text=bad).scop()
    assert e.value.line == 5 and "truncate" in str(e.value)


def test_pointer_arrays_with_shapes():
    text = "void f(int N, int M, double *A) {\n int i, j;\n#pragma scop\n" \
           " for (i = 0; i < N; i++)\n  for (j = 0; j < M; j++)\n   A[i][j] = i + j;\n" \
           "#pragma endscop\n}\n"
    with pytest.raises(polyk.UnsupportedError, match="shapes="):
        polyk.from_c(text=text)
    # a pointer with a 2-D shape is indexed as a 2-D array
    op = polyk.from_c(text=text, shapes={"A": ("N", "M")})
    A = np.zeros((3, 4))
    op(A)
    np.testing.assert_array_equal(A, np.add.outer(np.arange(3.0), np.arange(4.0)))


def test_defines_reach_the_preprocessor():
    text = "void f(int N, double x[N]) {\n int i;\n#pragma scop\n for (i = 0; i < N; i++)\n" \
           "  x[i] = SCALE * x[i];\n#pragma endscop\n}\n"
    op = polyk.from_c(text=text, defines={"SCALE": "2.5"})
    x = np.ones(3)
    op(x)
    assert list(x) == [2.5, 2.5, 2.5]


# ------------------------------------------------------------------ bad C

_HEAD = "void f(int N, int M, double A[N][N], double x[N], double s) {\n  int i, j;\n" \
        "#pragma scop\n"
_TAIL = "#pragma endscop\n}\n"

BAD_C = [
    # (body lines, error type, line of the error counted from the first body line = 4)
    ("for (i = 0; i < N; i++)\n  x[i * i % N] = 0;", polyk.NotAffineError, 5),
    ("for (i = 0; i < N; i++)\n  A[i][(int)x[i]] = 0;", polyk.NotAffineError, 5),
    ("for (i = 0; i < N * N; i++)\n  x[0] = 0;", polyk.NotAffineError, 4),
    ("for (i = 0; i < N; i++)\n  for (j = 0; j < i * j; j++)\n    x[0] = 0;",
     polyk.NotAffineError, 5),
    ("for (i = 0; i < N; i++)\n  if (x[i] > 0)\n    x[i] = 0;", polyk.NotAffineError, 5),
    ("while (s > 0)\n  s = s - 1;", polyk.UnsupportedError, 4),
    ("for (i = 0; i < N; i++) {\n  if (i == 3) break;\n  x[i] = 0;\n}", polyk.UnsupportedError,
     5),
    ("for (i = 0; i < N; i++)\n  x[i] = foo(x[i]);", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  printf(\"%d\", i);", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  *(x + i) = 0;", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  x[i] = *x;", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++) {\n  again: x[i] = 0;\n  goto again;\n}", polyk.UnsupportedError,
     5),
    ("for (i = 0; i < N; i++)\n  x[i++] = 0;", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  i = i + 1;", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i += j)\n  x[i] = 0;", polyk.NotAffineError, 4),
    ("for (i = 0; i < N; i++)\n  A[i] = 0;", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  x[i] = x[i] % 2.0;", polyk.UnsupportedError, 5),
    ("for (i = 0; i != N; i++)\n  x[i] = 0;", polyk.NotAffineError, 4),
    ("do { s = s + 1; } while (s < 3);", polyk.UnsupportedError, 4),
    ("for (i = 0; i < N; i++)\n  switch (i) { case 0: x[i] = 0; }", polyk.UnsupportedError, 5),
    ("for (i = 0; i < N; i++)\n  x[i] = y[i];", polyk.UnsupportedError, 5),
]


@pytest.mark.parametrize("body,error,line", BAD_C, ids=[f"bad{k}" for k in range(len(BAD_C))])
def test_bad_c_is_refused_with_its_line(body, error, line):
    text = _HEAD + "".join("  " + ln + "\n" for ln in body.splitlines()) + _TAIL
    with pytest.raises(error) as e:
        polyk.from_c(text=text)
    assert e.value.line == line, str(e.value)
    assert f"line {line}" in str(e.value)
    assert e.value.col is not None and e.value.col >= 1
    assert "<string>" in str(e.value)


def test_out_of_bounds_c_access_is_refused():
    text = _HEAD + "  for (i = 0; i < N; i++)\n    x[i + 1] = 0;\n" + _TAIL
    with pytest.raises(polyk.OutOfBoundsError) as e:
        polyk.from_c(text=text).scop()
    assert e.value.line == 5


def test_syntax_error_names_line_and_column():
    text = _HEAD + "  for (i = 0; i < N; i++)\n    x[i] = ;\n" + _TAIL
    with pytest.raises(polyk.UnsupportedError) as e:
        polyk.from_c(text=text)
    assert e.value.line == 5 and e.value.col is not None
