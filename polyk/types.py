"""Element types, parameters and array annotations: the vocabulary of an op's signature.

    NI, NJ = polyk.params("NI NJ")
    def f(alpha: f64, A: f64[NI, NJ], x: f32[NJ + 1]): ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DType:
    """A scalar element type: the annotation of a scalar argument, and ``f64[N, M]`` of an array."""

    name: str          # f32 f64 i32 i64
    ctype: str         # float double int32_t int64_t

    @property
    def np(self) -> np.dtype:
        return np.dtype({"f32": np.float32, "f64": np.float64,
                         "i32": np.int32, "i64": np.int64}[self.name])

    @property
    def is_float(self) -> bool:
        return self.name[0] == "f"

    def __getitem__(self, shape) -> ArrayType:
        if not isinstance(shape, tuple):
            shape = (shape,)
        dims = []
        for d in shape:
            lin = Lin.of(d)
            if lin is None:
                raise TypeError(f"array extent {d!r} is not an affine expression of parameters")
            dims.append(lin)
        return ArrayType(self, tuple(dims))

    def __repr__(self) -> str:
        return self.name


f32 = DType("f32", "float")
f64 = DType("f64", "double")
i32 = DType("i32", "int32_t")
i64 = DType("i64", "int64_t")
DTYPES = {d.name: d for d in (f32, f64, i32, i64)}


def dtype_of_numpy(dt) -> DType | None:
    dt = np.dtype(dt)
    for d in DTYPES.values():
        if d.np == dt:
            return d
    return None


class Lin:
    """An affine combination of parameters with integer coefficients: ``2*N + 1``.

    Used for array extents in annotations; supports + - and * by an integer.
    """

    __slots__ = ("coeffs", "const")

    def __init__(self, coeffs: dict[str, int] | None = None, const: int = 0):
        self.coeffs = {k: v for k, v in (coeffs or {}).items() if v != 0}
        self.const = const

    @staticmethod
    def of(x) -> Lin | None:
        if isinstance(x, Lin):
            return x
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            return Lin({}, int(x))
        return None

    def __add__(self, other):
        o = Lin.of(other)
        if o is None:
            return NotImplemented
        c = dict(self.coeffs)
        for k, v in o.coeffs.items():
            c[k] = c.get(k, 0) + v
        return Lin(c, self.const + o.const)

    __radd__ = __add__

    def __neg__(self):
        return Lin({k: -v for k, v in self.coeffs.items()}, -self.const)

    def __sub__(self, other):
        o = Lin.of(other)
        return NotImplemented if o is None else self + (-o)

    def __rsub__(self, other):
        o = Lin.of(other)
        return NotImplemented if o is None else o + (-self)

    def __mul__(self, other):
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return Lin({k: v * int(other) for k, v in self.coeffs.items()}, self.const * int(other))
        return NotImplemented

    __rmul__ = __mul__

    def params(self) -> list[str]:
        return list(self.coeffs)

    def evaluate(self, values: dict[str, int]) -> int:
        return self.const + sum(v * int(values[k]) for k, v in self.coeffs.items())

    def isl(self) -> str:
        """Text such as ``2*N - M + 1`` (valid in isl, C and Python)."""
        out = ""
        for k, v in self.coeffs.items():
            mag = f"{abs(v)}*{k}" if abs(v) != 1 else k
            out += (" - " if v < 0 else " + ") + mag if out else ("-" if v < 0 else "") + mag
        if self.const or not out:
            c = self.const
            out += (" - " if c < 0 else " + ") + str(abs(c)) if out else str(c)
        return out

    def __eq__(self, other):
        o = Lin.of(other)
        return o is not None and o.coeffs == self.coeffs and o.const == self.const

    def __hash__(self):
        return hash((tuple(sorted(self.coeffs.items())), self.const))

    def __repr__(self) -> str:
        return self.isl()


class Param(Lin):
    """A symbolic size, from ``polyk.params``. Inside an op it is a loop bound; at call time
    it is an integer taken from an array's shape or passed by keyword."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        super().__init__({name: 1}, 0)
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other):
        return Lin.__eq__(self, other)

    def __hash__(self):
        return Lin.__hash__(self)


def params(names: str):
    """``NI, NJ = polyk.params("NI NJ")``: declare symbolic sizes (a single name gives one Param)."""
    parts = names.replace(",", " ").split()
    if not parts:
        raise ValueError("polyk.params needs at least one name")
    for p in parts:
        if not p.isidentifier():
            raise ValueError(f"parameter name {p!r} is not an identifier")
    out = tuple(Param(p) for p in parts)
    return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class ArrayType:
    """The annotation ``f64[NI, NJ]``: element type and extents (affine in parameters)."""

    dtype: DType
    shape: tuple[Lin, ...]

    def __repr__(self) -> str:
        return f"{self.dtype.name}[{', '.join(map(repr, self.shape))}]"
