"""C text of expressions: isl AST expressions (loop bounds, guards) and statement bodies.

Statement bodies follow NumPy's typing (see scop/typing.py): every operand whose C type
differs from its operation's type is cast explicitly, so C's own conversion rules never
decide a result.
"""

from __future__ import annotations

import math
import re

import islpy as isl
import numpy as np

from ..scop.expr import (BOOL, WEAK_FLOAT, WEAK_INT, EBin, EBool, ECall, ECast, ECmp, EIndex,
                         ELoad, ENum, ESelect, EUnary, aff_to_c, concrete, promote)

C_RESERVED = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "main", "bool", "true",
    "false", "NULL", "INFINITY", "NAN", "abs", "sqrt", "exp", "log", "sin", "cos", "tan",
    "tanh", "pow", "fabs", "floor", "ceil", "min", "max",
}


def c_name(name: str) -> str:
    """A C identifier for a user name, avoiding keywords and libc names (loop iterators get
    a prefix no user name has: ``iterator_prefix``)."""
    if name in C_RESERVED or name.startswith("polyk_"):
        return f"{name}_v"
    return name


def iterator_prefix(names) -> str:
    """``c`` (isl's c0, c1, ...) unless a user name looks like that."""
    prefix = "c"
    while any(re.fullmatch(prefix + r"\d+", n) for n in names):
        prefix = "p" + prefix
    return prefix


# ------------------------------------------------------------------ isl AST expressions

_OPS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "pdiv_q": "/", "pdiv_r": "%",
    "zdiv_r": "%", "eq": "==", "le": "<=", "lt": "<", "ge": ">=", "gt": ">",
    "and_": "&&", "and_then": "&&", "or_": "||", "or_else": "||",
}
_OP_NAMES = {getattr(isl.ast_expr_op_type, n): n for n in dir(isl.ast_expr_op_type)
             if not n.startswith("_")}


def ast_expr(e: isl.AstExpr, names: dict[str, str]) -> str:
    """C text of an isl AST expression; ``names`` renames identifiers (parameters)."""
    t = e.get_type()
    if t == isl.ast_expr_type.int:
        v = e.get_val().to_python()
        return str(v) if -(2**31) < v < 2**31 else f"INT64_C({v})"
    if t == isl.ast_expr_type.id:
        n = e.get_id().get_name()
        return names.get(n, n)
    op = _OP_NAMES[e.get_op_type()]
    args = [ast_expr(e.get_op_arg(i), names) for i in range(e.get_op_n_arg())]
    if op in _OPS:
        return f"({args[0]} {_OPS[op]} {args[1]})"
    if op == "minus":
        return f"(-{args[0]})"
    if op in ("min", "max"):
        out = args[0]
        for a in args[1:]:
            out = f"polyk_{op}_i64({out}, {a})"
        return out
    if op == "fdiv_q":
        return f"polyk_floordiv({args[0]}, {args[1]})"
    if op in ("cond", "select"):
        return f"({args[0]} ? {args[1]} : {args[2]})"
    if op == "call":
        return f"{args[0]}({', '.join(args[1:])})"
    raise NotImplementedError(f"isl AST operation {op}")


# ------------------------------------------------------------------ statement bodies

_MATH = {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "fabs", "pow", "floor", "ceil"}


class BodyPrinter:
    """Prints one statement's body given C expressions for its iterators."""

    def __init__(self, arrays: dict, names: dict[str, str], access, fold=None):
        self.arrays = arrays          # SCoP arrays (for element types)
        self.names = names            # iterator/parameter name -> C expression
        self.access = access          # (ELoad, names) -> C lvalue text
        self.fold = fold              # (EBin, names) -> C text of a precomputed value,
                                      # or None (tiling/packing.py: scaled buffers)

    def assign(self, body) -> str:
        tgt = self.access(body.target, self.names)
        t = concrete(body.target.type)
        if body.op is None:
            return f"{tgt} = {self.expr(body.value, t)}"
        if body.op in ("+", "-", "*", "/") and concrete(body.value.type) == t \
                or body.op in ("+", "-", "*") and body.value.type in (WEAK_INT, WEAK_FLOAT):
            return f"{tgt} {body.op}= {self.expr(body.value, t)}"
        # general case: target = (target op value), computed in the promoted type
        cur = ELoad(body.target.array, body.target.indices, body.target.type)
        whole = EBin(body.op, cur, body.value, _binop_result(body.op, cur.type,
                                                               body.value.type))
        return f"{tgt} = {self.expr(whole, t)}"

    def expr(self, e, want=None) -> str:
        """C text of ``e`` converted to type ``want`` (a DType) when given."""
        text = self._expr(e, want)
        if want is None or isinstance(e, ENum):
            return text
        have = concrete(e.type)
        if have != concrete(want):
            return f"(({concrete(want).ctype}){text})"
        return text

    def _expr(self, e, want) -> str:
        if isinstance(e, ENum):
            return _literal(e.value, want)
        if isinstance(e, EIndex):
            return aff_to_c(e.aff, self.names)
        if isinstance(e, ELoad):
            return self.access(e, self.names)
        if isinstance(e, EBin):
            return self._bin(e)
        if isinstance(e, EUnary):
            return f"(-{self.expr(e.a, e.type)})"
        if isinstance(e, ECmp):
            t = promote(e.a.type, e.b.type)
            return f"({self.expr(e.a, t)} {e.op} {self.expr(e.b, t)})"
        if isinstance(e, EBool):
            if e.op == "not":
                return f"(!{self.expr(e.args[0])})"
            sym = " && " if e.op == "and" else " || "
            return "(" + sym.join(self.expr(a) for a in e.args) + ")"
        if isinstance(e, ESelect):
            return (f"({self.expr(e.cond)} ? {self.expr(e.a, e.type)} : "
                    f"{self.expr(e.b, e.type)})")
        if isinstance(e, ECall):
            return self._call(e)
        if isinstance(e, ECast):
            return f"(({e.to.ctype}){self.expr(e.a)})"
        raise TypeError(e)

    def _bin(self, e: EBin) -> str:
        if self.fold is not None:
            got = self.fold(e, self.names)
            if got is not None:
                return got
        t = concrete(e.type)
        if e.op == "**":
            if isinstance(e.b, ENum) and isinstance(e.b.value, int) and 0 <= e.b.value <= 4:
                if e.b.value == 0:
                    return _literal(1, t)
                base = self.expr(e.a, t)
                return "(" + " * ".join([base] * e.b.value) + ")"
            return f"{_math_name('pow', t)}({self.expr(e.a, t)}, {self.expr(e.b, t)})"
        if e.op in ("cdiv", "cmod"):   # C's own truncating integer division
            sym = "/" if e.op == "cdiv" else "%"
            return f"({self.expr(e.a, t)} {sym} {self.expr(e.b, t)})"
        if e.op in ("//", "%"):
            fn = "polyk_floordiv" if e.op == "//" else "polyk_mod"
            text = f"{fn}({self.expr(e.a, _I64)}, {self.expr(e.b, _I64)})"
            return text if t == _I64 else f"(({t.ctype}){text})"
        return f"({self.expr(e.a, t)} {e.op} {self.expr(e.b, t)})"

    def _call(self, e: ECall) -> str:
        t = concrete(e.type)
        if e.fn in ("min", "max"):
            return f"polyk_{e.fn}_{_suffix(t)}({self.expr(e.args[0], t)}, " \
                   f"{self.expr(e.args[1], t)})"
        if e.fn == "abs":
            if t.is_float:
                return f"{_math_name('fabs', t)}({self.expr(e.args[0], t)})"
            return f"polyk_abs_{_suffix(t)}({self.expr(e.args[0], t)})"
        args = ", ".join(self.expr(a, t) for a in e.args)
        return f"{_math_name(e.fn, t)}({args})"


from ..types import DTYPES  # noqa: E402

_I64 = DTYPES["i64"]


def _suffix(t) -> str:
    return t.name


def _math_name(fn: str, t) -> str:
    return fn + "f" if t.name == "f32" else fn


def _binop_result(op, a, b):
    if op == "/":
        if a in (WEAK_INT, BOOL) and b in (WEAK_INT, BOOL):
            return WEAK_FLOAT
        t = promote(a, b)
        return t if t == WEAK_FLOAT or concrete(t).is_float else DTYPES["f64"]
    return promote(a, b)


def _literal(v, want) -> str:
    f32 = want is not None and not isinstance(want, str) and want.name == "f32"
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        if want is not None and not isinstance(want, str) and want.is_float:
            return _literal(float(v), want)
        return str(v) if -(2**31) < v < 2**31 else f"INT64_C({v})"
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return ("-" if v < 0 else "") + "INFINITY"
    # float32: the shortest text that reads back as the same float32 (NumPy converts a
    # Python float to float32 once; so does the C compiler for an f-suffixed literal)
    text = str(np.float32(v)) if f32 else repr(float(v))
    if "e" not in text and "." not in text:
        text += ".0"
    return f"{text}f" if f32 else text
