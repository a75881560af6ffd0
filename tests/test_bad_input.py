"""Programs polyk must refuse, each with the right error class and the offending line.

Every refused program is a plain function of this file; the offending line carries the
marker ``# <-- here``, so the expected line number follows the code when lines move.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import polyk
from polyk import f32, f64, i32, i64

N, M = polyk.params("N M")
SCALE = 3  # a module constant that an op may read (see read_before_assign_shadows_global)

MARK = "# <-- here"


def marked_line(fn) -> int:
    lines, first = inspect.getsourcelines(fn)
    hits = [k for k, text in enumerate(lines) if MARK in text]
    assert len(hits) == 1, f"{fn.__name__} needs exactly one '{MARK}' marker"
    return first + hits[0]


# ---------------------------------------------------------------- refused when parsed

def product_subscript(A: f64[N, N], B: f64[N * 2]):
    for i in range(N):
        for j in range(N):
            A[i, j] = B[i * j]  # <-- here


def indirect_subscript(A: f64[N], B: i64[N]):
    for i in range(N):
        A[B[i]] = 1.0  # <-- here


def nonaffine_bound(A: f64[N]):
    for i in range(N):
        for j in range(i * i):  # <-- here
            A[i] += 1.0


def data_dependent_bound(A: f64[N], x: f64[N]):
    for i in range(int(x[0])):  # <-- here
        A[i] = 0.0


def scalar_argument_bound(A: f64[N], n: i64):
    for i in range(n):  # <-- here
        A[i] = 0.0


def division_bound(A: f64[N]):
    for i in range(N / 2):  # <-- here
        A[i] = 0.0


def data_dependent_if(A: f64[N]):
    for i in range(N):
        if A[i] > 0:  # <-- here
            A[i] = 0.0


def scalar_temporary_if(A: f64[N]):
    for i in range(N):
        s = A[i]
        if s > 0:  # <-- here
            A[i] = 1.0


def while_loop(A: f64[N]):
    i = 0
    while i < 3:  # <-- here
        A[0] = 1.0


def break_statement(A: f64[N]):
    for i in range(N):
        if i > 2:
            break  # <-- here
        A[i] = 0.0


def continue_statement(A: f64[N]):
    for i in range(N):
        continue  # <-- here


def return_statement(A: f64[N]):
    for i in range(N):
        A[i] = 1.0
    return A  # <-- here


def unknown_function(A: f64[N]):
    for i in range(N):
        A[i] = frobnicate(A[i])  # <-- here  # noqa: F821


def unknown_numpy_function(A: f64[N]):
    for i in range(N):
        A[i] = np.cumsum(A[i])  # <-- here


def slice_subscript(A: f64[N]):
    for i in range(N):
        A[0:2] = 1.0  # <-- here


def too_few_subscripts(A: f64[N, M]):
    for i in range(N):
        A[i] = 0.0  # <-- here


def too_many_subscripts(A: f64[N], B: f64[N]):
    for i in range(N):
        B[i] = A[i, 0]  # <-- here


def assign_loop_variable(A: f64[N]):
    for i in range(N):
        A[i] = 0.0
        i = i + 1  # <-- here


def loop_variable_after_loop(A: f64[N]):
    for i in range(N):
        A[i] = 0.0
    A[0] = i  # <-- here


def loop_variable_after_loop_in_other_loop(A: f64[N]):
    for i in range(N):
        A[i] = 0.0
    for j in range(N):
        A[j] = A[i]  # <-- here


def loop_variable_before_loop(A: f64[N]):
    A[0] = i  # <-- here  # noqa: F821
    for i in range(N):
        A[i] = 0.0


def read_before_assign(A: f64[N]):
    for i in range(N):
        s += A[i]  # <-- here  # noqa: F821
        A[i] = s


def read_before_assign_shadows_global(A: f64[N]):
    for i in range(N):
        A[i] = A[i] * SCALE  # <-- here
        SCALE = 2.0  # noqa: F841


def tuple_assignment(A: f64[N]):
    for i in range(N):
        a, b = A[i], 2.0  # <-- here


def chained_assignment(A: f64[N], B: f64[N]):
    for i in range(N):
        A[i] = B[i] = 0.0  # <-- here


def zero_step(A: f64[N]):
    for i in range(0, N, 0):  # <-- here
        A[i] = 0.0


def parameter_step(A: f64[N]):
    for i in range(0, N, M):  # <-- here
        A[i] = 0.0


def iterator_step(A: f64[N, N]):
    for i in range(1, N):
        for j in range(0, N, i):  # <-- here
            A[i, j] = 0.0


def float_floor_division(A: f64[N]):
    for i in range(N):
        A[i] = A[i] // 2.0  # <-- here


def float_modulo(A: f64[N]):
    for i in range(N):
        A[i] %= 1.5  # <-- here


def missing_annotation(A: f64[N], c):  # <-- here
    for i in range(N):
        A[i] = c


def lambda_call(A: f64[N]):
    for i in range(N):
        A[i] = (lambda v: v + 1)(A[i])  # <-- here


def list_comprehension(A: f64[N], B: f64[N]):
    for i in range(N):
        A[i] = max([B[j] for j in range(N)])  # <-- here


def float_subscript(A: f64[N]):
    for i in range(N):
        A[i / 2] = 0.0  # <-- here


def power_subscript(A: f64[N]):
    for i in range(N):
        A[i ** 2] = 0.0  # <-- here


def non_range_loop(A: f64[N], x: f64[N]):
    for v in x:  # <-- here
        A[0] = v


def for_else(A: f64[N]):
    for i in range(N):  # <-- here
        A[i] = 0.0
    else:
        A[0] = 1.0


def rebind_array_argument(A: f64[N]):
    for i in range(N):
        A = 0.0  # <-- here


def assign_parameter(A: f64[N]):
    A[0] = 1.0
    N = 3  # <-- here  # noqa: F841


def parameter_made_local_by_assignment(A: f64[N]):
    for i in range(N):  # <-- here  # Python: UnboundLocalError
        A[i] = 0.0
    N = 3  # noqa: F841


def shadowing_loop(A: f64[N, N]):
    for i in range(N):
        for i in range(N):  # <-- here
            A[i, i] = 0.0


def expression_statement(A: f64[N]):
    for i in range(N):
        print(A[i])  # <-- here


def with_statement(A: f64[N]):
    with open("x"):  # <-- here
        A[0] = 1.0


def condition_on_float(A: f64[N]):
    for i in range(N):
        if i < 2.5:  # <-- here
            A[i] = 0.0


def membership_condition(A: f64[N]):
    for i in range(N):
        if i in (1, 2):  # <-- here
            A[i] = 0.0


def reversed_strided_range(A: f64[N]):
    for i in reversed(range(0, N, 2)):  # <-- here
        A[i] = 0.0


def integer_power_variable_exponent(a: i32[N]):
    for i in range(N):
        a[i] = a[i] ** i  # <-- here


def default_argument(A: f64[N], c: f64 = 1.0):  # <-- here
    A[0] = c


def string_value(A: f64[N]):
    for i in range(N):
        A[i] = "one"  # <-- here


def math_call_on_index_keyword(A: f64[N]):
    for i in range(N):
        A[i] = math.pow(A[i], exp=2.0)  # <-- here


def int_argument_made_float(n: i32, x: f64[N]):
    n = n / 2  # <-- here  (Python: n becomes a float; C: an int32_t keeps 2)
    for i in range(N):
        x[i] = n


def float32_argument_widened(a: f32, x: f64[N]):
    for i in range(N):
        a *= x[i]  # <-- here  (Python: a becomes a float64)
        x[i] = a


REFUSED = [
    (product_subscript, polyk.NotAffineError),
    (indirect_subscript, polyk.NotAffineError),
    (nonaffine_bound, polyk.NotAffineError),
    (data_dependent_bound, polyk.NotAffineError),
    (scalar_argument_bound, polyk.NotAffineError),
    (division_bound, polyk.NotAffineError),
    (data_dependent_if, polyk.NotAffineError),
    (scalar_temporary_if, polyk.NotAffineError),
    (while_loop, polyk.UnsupportedError),
    (break_statement, polyk.UnsupportedError),
    (continue_statement, polyk.UnsupportedError),
    (return_statement, polyk.UnsupportedError),
    (unknown_function, polyk.UnsupportedError),
    (unknown_numpy_function, polyk.UnsupportedError),
    (slice_subscript, polyk.UnsupportedError),
    (too_few_subscripts, polyk.UnsupportedError),
    (too_many_subscripts, polyk.UnsupportedError),
    (assign_loop_variable, polyk.UnsupportedError),
    (loop_variable_after_loop, polyk.UnsupportedError),
    (loop_variable_after_loop_in_other_loop, polyk.UnsupportedError),
    (loop_variable_before_loop, polyk.UnsupportedError),
    (read_before_assign, polyk.UnsupportedError),
    (read_before_assign_shadows_global, polyk.UnsupportedError),
    (tuple_assignment, polyk.UnsupportedError),
    (chained_assignment, polyk.UnsupportedError),
    (zero_step, polyk.NotAffineError),
    (parameter_step, polyk.NotAffineError),
    (iterator_step, polyk.NotAffineError),
    (float_floor_division, polyk.UnsupportedError),
    (float_modulo, polyk.UnsupportedError),
    (missing_annotation, polyk.UnsupportedError),
    (lambda_call, polyk.UnsupportedError),
    (list_comprehension, polyk.UnsupportedError),
    (float_subscript, polyk.NotAffineError),
    (power_subscript, polyk.NotAffineError),
    (non_range_loop, polyk.NotAffineError),
    (for_else, polyk.UnsupportedError),
    (rebind_array_argument, polyk.UnsupportedError),
    (assign_parameter, polyk.UnsupportedError),
    (parameter_made_local_by_assignment, polyk.UnsupportedError),
    (shadowing_loop, polyk.UnsupportedError),
    (expression_statement, polyk.UnsupportedError),
    (with_statement, polyk.UnsupportedError),
    (condition_on_float, polyk.NotAffineError),
    (membership_condition, polyk.UnsupportedError),
    (reversed_strided_range, polyk.UnsupportedError),
    (integer_power_variable_exponent, polyk.UnsupportedError),
    (default_argument, polyk.UnsupportedError),
    (string_value, polyk.UnsupportedError),
    (math_call_on_index_keyword, polyk.UnsupportedError),
    (int_argument_made_float, polyk.UnsupportedError),
    (float32_argument_widened, polyk.UnsupportedError),
]


def test_corpus_is_large_enough():
    assert len(REFUSED) >= 18
    assert len({fn.__name__ for fn, _ in REFUSED}) == len(REFUSED)


@pytest.mark.parametrize("fn,cls", REFUSED, ids=[fn.__name__ for fn, _ in REFUSED])
def test_refused_when_parsed(fn, cls):
    with pytest.raises(cls) as e:
        polyk.op(fn)
    err = e.value
    line = marked_line(fn)
    assert err.line == line, f"reported line {err.line}, offending line {line}:\n{err}"
    assert err.filename == __file__ or err.filename.endswith("test_bad_input.py")
    assert f"line {line}" in str(err)
    assert err.code  # the offending source text is shown
    # the error class hierarchy: everything refused at parse time is a NotAffineError
    assert isinstance(err, polyk.NotAffineError) and isinstance(err, polyk.SourceError)


def test_unsupported_is_a_not_affine_error():
    assert issubclass(polyk.UnsupportedError, polyk.NotAffineError)
    assert not issubclass(polyk.OutOfBoundsError, polyk.NotAffineError)


def test_error_column_and_code_point_at_the_expression():
    with pytest.raises(polyk.NotAffineError) as e:
        polyk.op(product_subscript)
    assert e.value.code == "i * j"
    line_text = inspect.getsourcelines(product_subscript)[0][3]
    assert line_text[e.value.col - 1:].startswith("i * j")


def test_refused_inside_a_test_function_too():
    """Indented source (an op defined in a function) reports the file's line."""
    def nested(A: f64[N]):
        for i in range(N):
            A[i * i] = 0.0  # <-- here

    with pytest.raises(polyk.NotAffineError) as e:
        polyk.op(nested)
    assert e.value.line == marked_line(nested)
    text = inspect.getsourcelines(nested)[0][2]
    assert MARK in text and text[e.value.col - 1:].startswith("i * i")


def test_refused_with_decorator_arguments():
    with pytest.raises(polyk.NotAffineError) as e:
        @polyk.op(
            assume="N >= 2",
        )
        def decorated(A: f64[N]):
            for i in range(N):
                A[i] = A[A.shape[0]]  # <-- here
    lines, first = inspect.getsourcelines(test_refused_with_decorator_arguments)
    want = first + next(k for k, t in enumerate(lines) if MARK in t and "A.shape" in t)
    assert e.value.line == want


@pytest.mark.parametrize("name", ["mod", "floor", "exists", "polyk_e0"])
def test_reserved_parameter_names(name):
    """A parameter is spliced into isl text: isl's keywords (and polyk's own prefix, which
    names existential variables) would misparse or capture it."""
    P = polyk.params(name)

    def uses(x: f64[P]):  # <-- here
        for i in range(P):
            x[i] = 0.0

    with pytest.raises(polyk.UnsupportedError) as e:
        polyk.op(uses)
    assert e.value.line == marked_line(uses)
    assert repr(name) in str(e.value)


# ---------------------------------------------------------------- refused when the SCoP is built

def scalar_assigned_under_condition(A: f64[N]):
    for i in range(N):
        if i > 0:
            s = A[i - 1]
        A[i] = s  # <-- here


def scalar_assigned_in_loop_that_may_not_run(A: f64[N]):
    for i in range(N):
        for j in range(i):
            s = A[j]
        A[i] = s  # <-- here


@pytest.mark.parametrize("fn", [scalar_assigned_under_condition,
                                scalar_assigned_in_loop_that_may_not_run])
def test_scalar_maybe_unassigned(fn):
    """Python raises UnboundLocalError at i = 0; the C code would read garbage."""
    op = polyk.op(fn)
    with pytest.raises(polyk.UnsupportedError) as e:
        op.scop()
    assert e.value.line == marked_line(fn)
    assert "'s'" in str(e.value)
    with pytest.raises(UnboundLocalError):
        op(np.zeros(4))


def test_scalar_assigned_before_every_read_is_accepted():
    @polyk.op
    def ok(A: f64[N], B: f64[N]):
        for i in range(N):
            s = A[i]
        for i in range(N):  # N >= 1: the first loop ran, s holds A[N - 1]
            B[i] = s
        for i in range(N):
            if i > 0:
                t = A[i]
            else:
                t = 0.0
            B[i] += t

    ok.scop()
    a, b = np.arange(4.0), np.zeros(4)
    ok(a, b)
    np.testing.assert_array_equal(b, [3.0, 4.0, 5.0, 6.0])


# ---------------------------------------------------------------- out of bounds

def oob_shifted(Arr: f64[N]):
    for i in range(N):
        Arr[i] = Arr[i + 1]  # <-- here


def oob_transposed(Arr: f64[N, M]):
    for i in range(N):
        for j in range(M):
            Arr[i, j] = Arr[j, i]  # <-- here


def oob_triangular(Arr: f64[N, N], x: f64[N]):
    for i in range(N):
        for j in range(i + 2):
            x[i] += Arr[i, j]  # <-- here


def oob_min_max_bounds(Arr: f64[N], x: f64[M]):
    for i in range(max(N, M)):
        x[min(i, M - 1)] += Arr[i]  # <-- here


def oob_under_condition(Arr: f64[N]):
    for i in range(N + 5):
        if i >= 2:
            Arr[i - 3] = 1.0  # <-- here


def oob_negative_step(Arr: f64[N]):
    for i in range(N - 1, -2, -1):
        Arr[i] = 0.0  # <-- here


def oob_strided(Arr: f64[N]):
    for i in range(0, 2 * N + 1, 2):
        Arr[i // 2] = 0.0  # <-- here


def oob_modulo(Arr: f64[2], x: f64[N]):
    for i in range(N):
        x[i] = Arr[i % 3]  # <-- here


def oob_top_level(Arr: f64[N]):
    Arr[N] = 0.0  # <-- here


def oob_second_statement(Arr: f64[N], x: f64[N]):
    for i in range(N):
        x[i] = 0.0
        x[i] += Arr[N - i]  # <-- here


OOB = [oob_shifted, oob_transposed, oob_triangular, oob_min_max_bounds, oob_under_condition,
       oob_negative_step, oob_strided, oob_modulo, oob_top_level, oob_second_statement]


@pytest.mark.parametrize("fn", OOB, ids=[fn.__name__ for fn in OOB])
def test_out_of_bounds(fn):
    op = polyk.op(fn)  # parsing accepts it: the domain decides
    line = marked_line(fn)
    with pytest.raises(polyk.OutOfBoundsError) as e:
        op.scop()
    assert e.value.line == line
    assert "Arr" in e.value.reason
    assert f"line {line}" in str(e.value)
    with pytest.raises(polyk.OutOfBoundsError) as e:
        polyk.generate(op, target="c", compile=False)
    assert e.value.line == line


def test_in_bounds_variants_are_accepted():
    @polyk.op
    def fine(Arr: f64[N], x: f64[N]):
        for i in range(N + 5):
            if 3 <= i < N + 3:
                Arr[i - 3] = 1.0
        for i in range(0, 2 * N, 2):
            x[i // 2] = Arr[N - 1 - i // 2]
        for i in range(N - 1, -1, -1):
            x[i] += Arr[min(i + 1, N - 1)]

    fine.scop()


def assume_makes_legal(A: f64[N], B: f64[M]):
    for i in range(M):
        B[i] = A[i + 1]  # <-- here


def test_assume_makes_access_legal():
    with pytest.raises(polyk.OutOfBoundsError) as e:
        polyk.op(assume_makes_legal).scop()
    assert e.value.line == marked_line(assume_makes_legal)
    polyk.op(assume_makes_legal, assume="M < N").scop()
    polyk.op(assume_makes_legal).scop(assume="M < N")
    polyk.op(assume_makes_legal).scop(sizes={"N": 9, "M": 8})
    with pytest.raises(polyk.OutOfBoundsError):
        polyk.op(assume_makes_legal).scop(assume="M <= N")
    with pytest.raises(polyk.OutOfBoundsError):
        polyk.op(assume_makes_legal).scop(sizes={"N": 8, "M": 8})
    k = polyk.generate(polyk.op(assume_makes_legal, assume="M < N"), target="c",
                       scheduler="identity")
    a, b = np.arange(5.0), np.zeros(3)
    k(a, b)
    np.testing.assert_array_equal(b, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        k(np.arange(3.0), np.zeros(3))  # M < N does not hold: refused, never read past A


def test_bad_assumption_text():
    with pytest.raises(polyk.OptionsError):
        polyk.op(assume_makes_legal, assume="M <<< N").scop()
    with pytest.raises(polyk.OptionsError):
        polyk.op(assume_makes_legal).scop(assume="N < 0")
