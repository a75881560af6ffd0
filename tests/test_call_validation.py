"""Call-time checks of a compiled kernel and of the op run as plain Python: both bind
arguments the same way and refuse the same mistakes (TypeError for the signature,
ValueError for values)."""

from __future__ import annotations

import numpy as np
import pytest

import polyk
from polyk import f32, f64, i32

N, M, T = polyk.params("N M T")


@polyk.op(assume="N >= 4")
def mv(a: f64, A: f64[N, M], x: f64[M], y: f64[N]):
    for t in range(T):
        for i in range(N):
            for j in range(M):
                y[i] += a * A[i, j] * x[j]


def build(op, **kw):
    """A compiled kernel of the loop nest as written: the checks here are the same for
    every schedule."""
    return polyk.generate(op, target="c", scheduler="identity", **kw)


@pytest.fixture(scope="module")
def kernel():
    return build(mv)


@pytest.fixture(params=["kernel", "python"])
def call(request, kernel):
    """The compiled kernel and the plain-Python op: every check applies to both."""
    return kernel if request.param == "kernel" else mv


def args(n=5, m=3):
    rng = np.random.default_rng(n * 10 + m)
    return dict(a=1.5, A=rng.random((n, m)), x=rng.random(m), y=rng.random(n))


def expected(a, A, x, y, T):
    y = y.copy()
    for _ in range(T):
        for i in range(A.shape[0]):
            for j in range(A.shape[1]):
                y[i] += a * A[i, j] * x[j]
    return y


# ---------------------------------------------------------------- valid calls

def test_positional_and_keyword_calls_work(call):
    g = args()
    want = expected(g["a"], g["A"], g["x"], g["y"], 2)
    y1 = g["y"].copy()
    assert call(g["a"], g["A"], g["x"], y1, T=2) is None
    np.testing.assert_allclose(y1, want, rtol=1e-13)
    y2 = g["y"].copy()
    assert call(x=g["x"], y=y2, A=g["A"], a=g["a"], T=2) is None
    np.testing.assert_allclose(y2, want, rtol=1e-13)
    y3 = g["y"].copy()
    assert call(g["a"], g["A"], y=y3, x=g["x"], T=2, N=5, M=3) is None  # consistent params
    np.testing.assert_allclose(y3, want, rtol=1e-13)


def test_kernel_and_python_agree(kernel):
    g = args(6, 4)
    y_k, y_p = g["y"].copy(), g["y"].copy()
    kernel(g["a"], g["A"], g["x"], y_k, T=3)
    mv(g["a"], g["A"], g["x"], y_p, T=3)
    np.testing.assert_allclose(y_k, y_p, rtol=1e-13)


def test_scalar_conversion(call):
    g = args()
    for a in (2, np.float32(2.0), np.int64(2), np.array(2.0)):
        y = g["y"].copy()
        call(a, g["A"], g["x"], y, T=1)
        np.testing.assert_allclose(y, expected(2.0, g["A"], g["x"], g["y"], 1), rtol=1e-13)


def test_read_only_input_is_accepted(call):
    g = args()
    g["A"].flags.writeable = False
    g["x"].flags.writeable = False
    call(**g, T=1)


def test_read_only_arrays_may_share_memory(call):
    """Only a written argument may not alias: A and x are both only read."""
    buf = np.random.default_rng(0).random(5 * 5)
    A = buf.reshape(5, 5)
    x = buf[:5]
    y = np.zeros(5)
    call(1.0, A, x, y, T=1)
    np.testing.assert_allclose(y, A @ x, rtol=1e-13)


# ---------------------------------------------------------------- refused calls

def assert_unchanged_after(exc, fn, watched, /, **kw):
    before = watched.copy()
    with pytest.raises(exc) as e:
        fn(**kw)
    np.testing.assert_array_equal(watched, before)  # refused before anything ran
    return e.value


def test_wrong_dtype(call):
    g = args()
    g["A"] = g["A"].astype(np.float32)
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1)
    assert "A" in str(err) and "float32" in str(err)
    g = args()
    g["y"] = g["y"].astype(np.int64)
    with pytest.raises(ValueError):
        call(**g, T=1)


def test_wrong_rank(call):
    g = args()
    g["x"] = g["x"].reshape(1, 3)
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1)
    assert "x" in str(err) and "dimension" in str(err)
    g = args()
    g["A"] = g["A"].ravel()
    with pytest.raises(ValueError):
        call(**g, T=1)


def test_not_an_array(call):
    g = args()
    g["A"] = g["A"].tolist()
    with pytest.raises(ValueError):
        call(**g, T=1)
    g = args()
    g["a"] = np.ones(2)  # a scalar argument given an array
    with pytest.raises(ValueError):
        call(**g, T=1)
    g = args()
    g["a"] = "1.5"
    with pytest.raises(ValueError):
        call(**g, T=1)


def test_inconsistent_shapes(call):
    g = args()
    g["x"] = np.ones(4)  # A says M = 3
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1)
    assert "x" in str(err) or "A" in str(err)
    g = args()
    g["y"] = np.ones(6)  # A says N = 5
    with pytest.raises(ValueError):
        call(**g, T=1)


def test_non_contiguous(call):
    g = args()
    g["A"] = np.ones((5, 6))[:, ::2]
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1)
    assert "contiguous" in str(err)
    g = args()
    g["A"] = np.ones((3, 5)).T  # right shape, Fortran order
    with pytest.raises(ValueError, match="contiguous"):
        call(**g, T=1)
    g = args()
    y = np.zeros(10)[::2]
    with pytest.raises(ValueError, match="contiguous"):
        call(g["a"], g["A"], g["x"], y, T=1)
    g = args()
    with pytest.raises(ValueError, match="contiguous"):
        call(g["a"], g["A"], g["x"][::-1], g["y"], T=1)


def test_parameters_outside_the_context(call):
    g = args(2, 3)  # N = 2, but the op assumes N >= 4
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1)
    assert "N=2" in str(err)
    g = args()
    with pytest.raises(ValueError):
        call(**g, T=0)  # parameters are >= 1
    with pytest.raises(ValueError):
        call(**g, T=-3)


def test_parameter_keyword_conflicting_with_shape(call):
    g = args()
    err = assert_unchanged_after(ValueError, call, g["y"], **g, T=1, N=6)
    assert "N" in str(err)
    with pytest.raises(ValueError):
        call(**g, T=1, M=2)


def test_bad_parameter_values(call):
    g = args()
    with pytest.raises(ValueError):
        call(**g)  # T appears in no shape: it must be passed
    with pytest.raises(ValueError):
        call(**g, T=1.5)
    with pytest.raises(ValueError):
        call(**g, T=True)


def test_aliasing_same_array_twice(call):
    @polyk.op
    def axpy(x: f64[N], y: f64[N]):
        for i in range(N):
            y[i] += 2.0 * x[i]

    f = build(axpy) if call is not mv else axpy
    v = np.ones(5)
    with pytest.raises(ValueError, match="share memory"):
        f(v, v)
    np.testing.assert_array_equal(v, np.ones(5))
    buf = np.arange(8.0)
    with pytest.raises(ValueError, match="share memory"):
        f(buf[:5], buf[3:])  # overlapping views
    f(buf[:4], buf[4:])  # disjoint views of one buffer are fine
    np.testing.assert_array_equal(buf, [0, 1, 2, 3, 4, 7, 10, 13])


def test_aliasing_overlapping_view_of_written_array(call):
    g = args(5, 5)
    with pytest.raises(ValueError, match="share memory"):
        call(g["a"], g["A"], g["A"][1], g["A"][2], T=1)
    with pytest.raises(ValueError, match="share memory"):
        call(g["a"], g["A"], g["x"], g["A"].ravel()[3:8], T=1)


def test_missing_argument(call):
    g = args()
    del g["x"]
    with pytest.raises(TypeError, match="x"):
        call(**g, T=1)
    with pytest.raises(TypeError):
        call(1.0, T=1)


def test_unknown_keyword(call):
    g = args()
    with pytest.raises(TypeError, match="Q"):
        call(**g, T=1, Q=2)


def test_too_many_positional_and_duplicates(call):
    g = args()
    with pytest.raises(TypeError):
        call(g["a"], g["A"], g["x"], g["y"], 3)
    with pytest.raises(TypeError):
        call(g["a"], g["A"], g["x"], g["y"], a=2.0, T=1)


def test_read_only_output(call):
    g = args()
    g["y"].flags.writeable = False
    with pytest.raises(ValueError, match="argument y"):  # polyk's check, not NumPy's
        call(**g, T=1)


def test_refused_call_leaves_arrays_untouched(kernel):
    g = args()
    A0, y0 = g["A"].copy(), g["y"].copy()
    with pytest.raises(ValueError):
        kernel(g["a"], g["A"], g["x"].astype(np.float32), g["y"], T=1)
    np.testing.assert_array_equal(g["A"], A0)
    np.testing.assert_array_equal(g["y"], y0)


# ---------------------------------------------------------------- specialisation, other types

def test_sizes_specialisation_refuses_other_sizes():
    @polyk.op
    def scale(a: f64, x: f64[N]):
        for i in range(N):
            x[i] *= a

    k = build(scale, sizes={"N": 8})
    x = np.arange(8.0)
    k(2.0, x)
    np.testing.assert_array_equal(x, 2.0 * np.arange(8.0))
    with pytest.raises(ValueError, match="N"):
        k(2.0, np.arange(9.0))
    with pytest.raises(ValueError):
        k(2.0, np.arange(8.0), N=9)
    # the unspecialised kernel takes any size
    k2 = build(scale)
    y = np.arange(9.0)
    k2(2.0, y)
    np.testing.assert_array_equal(y, 2.0 * np.arange(9.0))


def test_float32_and_int32_signatures():
    @polyk.op
    def mix(s: i32, a: f32[N], b: i32[N]):
        for i in range(N):
            b[i] += s
            a[i] *= 2.0

    k = build(mix)
    a, b = np.ones(4, np.float32), np.zeros(4, np.int32)
    k(3, a, b)
    np.testing.assert_array_equal(a, np.full(4, 2.0, np.float32))
    np.testing.assert_array_equal(b, np.full(4, 3, np.int32))
    assert a.dtype == np.float32 and b.dtype == np.int32
    for f in (k, mix):
        with pytest.raises(ValueError):
            f(3, a.astype(np.float64), b)
        with pytest.raises(ValueError):
            f(3, a, b.astype(np.int64))
        with pytest.raises(ValueError):
            f(2 ** 40, a, b)  # does not fit int32
        with pytest.raises(ValueError):
            f(1.5, a, b)  # an integer scalar is not given a float


def test_affine_extents_infer_parameters():
    @polyk.op
    def pad(x: f64[N + 2], y: f64[2 * N]):
        for i in range(N):
            y[2 * i] = x[i + 1]
            y[2 * i + 1] = x[i + 2] - x[i]

    k = build(pad)
    x, y = np.arange(6.0), np.zeros(8)
    y2 = y.copy()
    k(x, y)
    pad(x, y2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(y[::2], x[1:5])
    for f in (k, pad):
        with pytest.raises(ValueError):
            f(np.arange(6.0), np.zeros(7))  # 7 = 2*N has no integer N
        with pytest.raises(ValueError):
            f(np.arange(6.0), np.zeros(10))  # x gives N = 4, y gives N = 5


def test_misaligned_array(call):
    g = args()
    buf = np.zeros(3 * 8 + 1, np.uint8)
    x = buf[1:].view(np.float64)
    assert x.shape == (3,) and x.flags["C_CONTIGUOUS"] and not x.flags["ALIGNED"]
    with pytest.raises(ValueError, match="aligned"):
        call(g["a"], g["A"], x, g["y"], T=1)
