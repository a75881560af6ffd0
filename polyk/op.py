"""``polyk.op``: a Python loop nest as an operator.

The op object is the parsed program plus its executable meaning: calling it runs the loop
nest as plain Python on NumPy arrays (slow; for small sizes), which is what generated code is
tested against.
"""

from __future__ import annotations

import functools
import math
import types

import numpy as np

from .binding import Bound, bind_arguments
from .scop.model import build_context, build_scop
from .scop.python_frontend import parse_function, parse_source
from .types import Lin, Param


class Op:
    """An affine loop nest with a signature. Make one with ``@polyk.op``."""

    def __init__(self, fn, program, *, inputs=None):
        self.fn = fn
        self.program = program
        self._inputs = inputs
        self.context = build_context(program, program.params, {}, None)
        self._as_written = None
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())

    # ------------------------------------------------------------ description
    @property
    def name(self) -> str:
        return self.program.name

    @property
    def params(self) -> tuple[str, ...]:
        return self.program.params

    @property
    def args(self):
        return self.program.args

    def scop(self, *, sizes: dict | None = None, assume: str | None = None):
        """The SCoP of this op (isl domains, accesses, original schedule)."""
        return build_scop(self.program, sizes=sizes, assume=assume)

    def __repr__(self) -> str:
        sig = ", ".join(map(repr, self.args))
        return f"<polyk.op {self.name}({sig}); parameters {', '.join(self.params) or 'none'}>"

    @classmethod
    def from_source(cls, text: str, *, name: str | None = None, namespace: dict | None = None,
                    filename: str = "<string>", assume: str | None = None, inputs=None) -> Op:
        """An op from Python source text (a ``def`` whose annotations use ``namespace``)."""
        prog = parse_source(text, name=name, filename=filename, namespace=namespace,
                            assume=assume)
        ns = {"__builtins__": __builtins__}
        ns.update(namespace or {})
        exec(compile(text, filename, "exec"), ns)
        return cls(ns[prog.name], prog, inputs=inputs)

    # ------------------------------------------------------------ inputs
    def inputs(self, fn):
        """Decorator: ``@op.inputs def gen(sizes, rng) -> dict`` sets the input generator."""
        self._inputs = fn
        return fn

    def make_inputs(self, sizes: dict, seed: int = 0) -> dict:
        """Arguments for a call at ``sizes``: from the op's generator, else random."""
        rng = np.random.default_rng(seed)
        if self._inputs is not None:
            out = self._inputs(dict(sizes), rng)
            missing = [a.name for a in self.args if a.name not in out]
            if missing:
                raise ValueError(f"the input generator of {self.name} gave no {missing}")
            return out
        out = {}
        for a in self.args:
            if a.is_array:
                try:
                    shape = tuple(d.evaluate(sizes) for d in a.shape)
                except KeyError as e:
                    raise ValueError(f"sizes give no value for parameter {e.args[0]}") from None
                if a.dtype.is_float:
                    out[a.name] = rng.uniform(-1.0, 1.0, shape).astype(a.dtype.np)
                else:
                    out[a.name] = rng.integers(-20, 21, shape).astype(a.dtype.np)
            elif a.dtype.is_float:
                out[a.name] = a.dtype.np.type(rng.uniform(0.5, 1.5))
            else:
                out[a.name] = a.dtype.np.type(rng.integers(1, 6))
        return out

    # ------------------------------------------------------------ plain Python run
    def bind(self, args, kwargs) -> Bound:
        return bind_arguments(self.program, args, kwargs, context=self.context)

    def __call__(self, *args, **kwargs):
        """Run the loop nest as plain Python on the given arrays (in place; returns None)."""
        if self.fn is None:   # an op read from C: its meaning is the C code as written
            if self._as_written is None:
                from .pipeline import generate
                self._as_written = generate(self, scheduler="identity")
            return self._as_written(*args, **kwargs)
        b = self.bind(args, kwargs)
        fn = _with_params(self.fn, b.params)
        with np.errstate(all="ignore"):
            fn(**b.values)


_NUMPY_MATH = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos,
               "tan": np.tan, "tanh": np.tanh, "fabs": np.fabs, "pow": np.power,
               "floor": np.floor, "ceil": np.ceil}


class _NumpyMath(types.ModuleType):
    """``math`` as the loop nest sees it when run as Python: NumPy's functions, so float32
    stays float32 as it does in the generated C."""

    def __init__(self):
        super().__init__("math")
        for name in _NUMPY_MATH:
            setattr(self, name, _NUMPY_MATH[name])

    def __getattr__(self, name):
        return getattr(math, name)


_MATH_SHIM = _NumpyMath()
_MATH_SWAP = {id(getattr(math, n)): f for n, f in _NUMPY_MATH.items()}


def _swap(v, params):
    if isinstance(v, Param):
        return params.get(v.name, v)
    if v is math:
        return _MATH_SHIM
    if callable(v) and id(v) in _MATH_SWAP:
        return _MATH_SWAP[id(v)]
    if isinstance(v, Lin) and all(p in params for p in v.coeffs):
        return v.evaluate(params)
    return v


def _with_params(fn, params: dict):
    """A copy of ``fn`` whose parameters are the given integers."""
    code = fn.__code__
    g = dict(fn.__globals__)
    for name in code.co_names:
        if name in g:
            g[name] = _swap(g[name], params)
    closure = None
    if fn.__closure__:
        closure = tuple(types.CellType(_swap(c.cell_contents, params)) for c in fn.__closure__)
    return types.FunctionType(code, g, fn.__name__, fn.__defaults__, closure)


def from_c(path=None, text=None, *, function: str | None = None, defines=None,
           include_dirs=None, shapes: dict | None = None, assume: str | None = None,
           inputs=None) -> Op:
    """An op from the ``#pragma scop`` region of a C file (or of C source ``text``).

    Array declarations come from the enclosing function's parameters (C99 variable-length
    arrays such as ``double A[N][M]``, or pointers with ``shapes={"A": ("N", "M")}``); its
    integer parameters are the op's parameters. ``defines`` (dict or ["N=100", ...]) and
    ``include_dirs`` are passed to the C preprocessor. Calling the op runs the C as written.
    """
    from .scop.c_frontend import parse_c
    if (path is None) == (text is None):
        raise TypeError("from_c takes exactly one of path= and text=")
    if path is not None:
        with open(path) as f:
            text = f.read()
        filename = str(path)
    else:
        filename = "<string>"
    prog, _ = parse_c(text, filename, function=function, defines=defines,
                      include_dirs=include_dirs, shapes=shapes, assume=assume)
    return Op(None, prog, inputs=inputs)


def op(fn=None, *, assume: str | None = None, inputs=None):
    """Decorator: turn an affine loop nest into a polyk operator.

    ``@polyk.op`` or ``@polyk.op(assume="N >= 4", inputs=gen)``; the function's arguments are
    annotated ``f64`` (a scalar) or ``f64[N, M]`` (an array); parameters come from
    ``polyk.params``.
    """
    def wrap(f):
        return Op(f, parse_function(f, assume=assume), inputs=inputs)
    return wrap if fn is None else wrap(fn)
