"""Expression trees of statement bodies and affine index expressions.

Two small trees:
- ``Aff*`` nodes: integer affine expressions of loop iterators and parameters (subscripts,
  bounds, conditions), with floor division, modulo, min and max by constants; printable in
  isl's syntax (to build sets and maps) and in C.
- ``E*`` nodes: the value computed by a statement body, typed following NumPy's rules
  (NEP 50: Python numbers are "weak" and take the type of the array operand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import DType, DTYPES

# ---------------------------------------------------------------- affine expressions


class Aff:
    """Base class of affine expression nodes (immutable, hashable)."""

    def vars(self) -> set[str]:
        out: set[str] = set()
        for c in self.children():
            out |= c.vars()
        return out

    def children(self) -> tuple[Aff, ...]:
        return ()

    def const_value(self) -> int | None:
        """The integer value if the expression has no variable."""
        return None


@dataclass(frozen=True)
class AConst(Aff):
    value: int

    def const_value(self):
        return self.value


@dataclass(frozen=True)
class AVar(Aff):
    name: str
    kind: str  # "iter" or "param"

    def vars(self):
        return {self.name}


@dataclass(frozen=True)
class AAdd(Aff):
    a: Aff
    b: Aff
    sign: int = 1  # a + sign*b

    def children(self):
        return (self.a, self.b)

    def const_value(self):
        x, y = self.a.const_value(), self.b.const_value()
        return None if x is None or y is None else x + self.sign * y


@dataclass(frozen=True)
class AMul(Aff):
    coef: int
    e: Aff

    def children(self):
        return (self.e,)

    def const_value(self):
        x = self.e.const_value()
        return None if x is None else self.coef * x


@dataclass(frozen=True)
class AFloorDiv(Aff):
    e: Aff
    d: int  # > 0

    def children(self):
        return (self.e,)

    def const_value(self):
        x = self.e.const_value()
        return None if x is None else x // self.d


@dataclass(frozen=True)
class AMod(Aff):
    e: Aff
    d: int  # > 0

    def children(self):
        return (self.e,)

    def const_value(self):
        x = self.e.const_value()
        return None if x is None else x % self.d


@dataclass(frozen=True)
class AMinMax(Aff):
    op: str  # "min" or "max"
    args: tuple[Aff, ...]

    def children(self):
        return self.args

    def const_value(self):
        vals = [a.const_value() for a in self.args]
        if any(v is None for v in vals):
            return None
        return min(vals) if self.op == "min" else max(vals)


def aff_to_isl(e: Aff) -> str:
    """isl syntax, fully parenthesised."""
    if isinstance(e, AConst):
        return f"({e.value})"
    if isinstance(e, AVar):
        return e.name
    if isinstance(e, AAdd):
        return f"({aff_to_isl(e.a)} {'+' if e.sign > 0 else '-'} {aff_to_isl(e.b)})"
    if isinstance(e, AMul):
        return f"({e.coef}*{aff_to_isl(e.e)})"
    if isinstance(e, AFloorDiv):
        return f"floor({aff_to_isl(e.e)}/{e.d})"
    if isinstance(e, AMod):
        return f"({aff_to_isl(e.e)} mod {e.d})"
    if isinstance(e, AMinMax):
        out = aff_to_isl(e.args[0])
        for a in e.args[1:]:
            out = f"{e.op}({out}, {aff_to_isl(a)})"
        return out
    raise TypeError(e)


def aff_to_c(e: Aff, names: dict[str, str]) -> str:
    """C syntax; ``names`` maps iterator names to C expressions (parenthesised as needed)."""
    if isinstance(e, AConst):
        return str(e.value) if -(2**31) < e.value < 2**31 else f"INT64_C({e.value})"
    if isinstance(e, AVar):
        return names.get(e.name, e.name)
    if isinstance(e, AAdd):
        return f"({aff_to_c(e.a, names)} {'+' if e.sign > 0 else '-'} {aff_to_c(e.b, names)})"
    if isinstance(e, AMul):
        return f"({e.coef} * {aff_to_c(e.e, names)})"
    if isinstance(e, AFloorDiv):
        return f"polyk_floordiv({aff_to_c(e.e, names)}, {e.d})"
    if isinstance(e, AMod):
        return f"polyk_mod({aff_to_c(e.e, names)}, {e.d})"
    if isinstance(e, AMinMax):
        out = aff_to_c(e.args[0], names)
        for a in e.args[1:]:
            out = f"polyk_{e.op}_i64({out}, {aff_to_c(a, names)})"
        return out
    raise TypeError(e)


def aff_eval(e: Aff, env: dict[str, int]) -> int:
    if isinstance(e, AConst):
        return e.value
    if isinstance(e, AVar):
        return int(env[e.name])
    if isinstance(e, AAdd):
        return aff_eval(e.a, env) + e.sign * aff_eval(e.b, env)
    if isinstance(e, AMul):
        return e.coef * aff_eval(e.e, env)
    if isinstance(e, AFloorDiv):
        return aff_eval(e.e, env) // e.d
    if isinstance(e, AMod):
        return aff_eval(e.e, env) % e.d
    if isinstance(e, AMinMax):
        vals = [aff_eval(a, env) for a in e.args]
        return min(vals) if e.op == "min" else max(vals)
    raise TypeError(e)


def aff_pretty(e: Aff) -> str:
    """Python-like text for messages."""
    if isinstance(e, AConst):
        return str(e.value)
    if isinstance(e, AVar):
        return e.name
    if isinstance(e, AAdd):
        b = aff_pretty(e.b)
        return f"{aff_pretty(e.a)} {'+' if e.sign > 0 else '-'} {b}"
    if isinstance(e, AMul):
        return f"{e.coef}*{_paren(e.e)}"
    if isinstance(e, AFloorDiv):
        return f"{_paren(e.e)} // {e.d}"
    if isinstance(e, AMod):
        return f"{_paren(e.e)} % {e.d}"
    if isinstance(e, AMinMax):
        return f"{e.op}({', '.join(aff_pretty(a) for a in e.args)})"
    raise TypeError(e)


def _paren(e: Aff) -> str:
    s = aff_pretty(e)
    return s if isinstance(e, (AConst, AVar, AMinMax)) else f"({s})"


# ---------------------------------------------------------------- value expressions

# Types of value expressions: a DType, or one of the weak Python number kinds.
WEAK_INT = "int"      # a Python int (iterators, parameters, integer literals)
WEAK_FLOAT = "float"  # a Python float literal
BOOL = "bool"


def concrete(t) -> DType:
    """The C type a weak type prints as."""
    if t == WEAK_INT or t == BOOL:
        return DTYPES["i64"]
    if t == WEAK_FLOAT:
        return DTYPES["f64"]
    return t


def promote(a, b):
    """NumPy 2 (NEP 50) promotion of two operand types."""
    if a == BOOL:
        a = WEAK_INT
    if b == BOOL:
        b = WEAK_INT
    weak = (WEAK_INT, WEAK_FLOAT)
    if a in weak and b in weak:
        return WEAK_FLOAT if WEAK_FLOAT in (a, b) else WEAK_INT
    if a in weak or b in weak:
        w, c = (a, b) if a in weak else (b, a)
        if w == WEAK_FLOAT and not c.is_float:
            return DTYPES["f64"]
        return c
    return _from_np(np.result_type(a.np, b.np))


def float_of(t):
    """Result type of a true division or a math function applied to type t."""
    if t in (WEAK_INT, BOOL):
        return DTYPES["f64"]
    if t == WEAK_FLOAT:
        return WEAK_FLOAT
    if not t.is_float:
        return DTYPES["f64"]
    return t


def _from_np(dt) -> DType:
    for d in DTYPES.values():
        if d.np == dt:
            return d
    raise TypeError(f"no polyk type for numpy type {dt}")


class E:
    """Base class of value expression nodes. ``type`` is set by type inference."""

    type = None

    def children(self) -> tuple[E, ...]:
        return ()

    def walk(self):
        yield self
        for c in self.children():
            yield from c.walk()


@dataclass(eq=False)
class ENum(E):
    value: int | float
    type: object = None
    fixed: object = None    # a declared type (C literals are typed: 1.0 double, 1.0f float)


@dataclass(eq=False)
class EIndex(E):
    """An integer affine value of iterators and parameters used as a number."""
    aff: Aff
    type: object = WEAK_INT
    fixed: object = None    # C: iterators and parameters are ints


@dataclass(eq=False)
class ELoad(E):
    """Read of an array element or of a scalar (``indices == ()``)."""
    array: str
    indices: tuple[Aff, ...]
    type: object = None


@dataclass(eq=False)
class EBin(E):
    op: str  # + - * / // % ** (Python), cdiv cmod (C's truncating integer / and %)
    a: E
    b: E
    type: object = None

    def children(self):
        return (self.a, self.b)


@dataclass(eq=False)
class EUnary(E):
    op: str  # - +
    a: E
    type: object = None

    def children(self):
        return (self.a,)


@dataclass(eq=False)
class ECmp(E):
    op: str  # < <= > >= == !=
    a: E
    b: E
    type: object = BOOL

    def children(self):
        return (self.a, self.b)


@dataclass(eq=False)
class EBool(E):
    op: str  # and / or / not
    args: tuple[E, ...]
    type: object = BOOL

    def children(self):
        return self.args


@dataclass(eq=False)
class ESelect(E):
    cond: E
    a: E
    b: E
    type: object = None

    def children(self):
        return (self.cond, self.a, self.b)


@dataclass(eq=False)
class ECall(E):
    fn: str  # sqrt exp log sin cos tan tanh fabs abs pow floor ceil min max
    args: tuple[E, ...]
    type: object = None

    def children(self):
        return self.args


@dataclass(eq=False)
class ECast(E):
    to: DType
    a: E
    type: object = None

    def children(self):
        return (self.a,)


@dataclass(eq=False)
class Assign:
    """``target op= value``: the body of one statement."""
    target: ELoad
    value: E
    op: str | None = None  # None for plain assignment, else + - * / etc.
    reads: list[ELoad] = field(default_factory=list)
