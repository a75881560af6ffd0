"""Type inference of statement bodies, following NumPy 2's rules (NEP 50).

Arrays and scalar arguments have declared types; Python literals, loop variables and
parameters are "weak" and take the type of the other operand. A scalar temporary gets the
promotion of every value assigned to it (``s = 0.0; s += A[i]`` with ``A: f32[...]`` makes
``s`` a float32), which is what a NumPy run of the loop nest would end up with.
"""

from __future__ import annotations

from ..errors import UnsupportedError
from .expr import (BOOL, WEAK_FLOAT, WEAK_INT, EBin, EBool, ECall, ECast, ECmp, EIndex, ELoad,
                   ENum, ESelect, EUnary, concrete, float_of, promote)


def infer_types(prog) -> None:
    """Set ``prog.locals`` to concrete types and ``.type`` on every expression node."""
    declared = {a.name: a.dtype for a in prog.args}
    local_t: dict = {n: None for n in prog.locals}
    for name, t in prog.locals.items():
        if name in declared:  # a scalar argument that is assigned keeps its declared type
            local_t[name] = declared[name]
        elif t is not None:   # a declared temporary (C)
            local_t[name] = t
            declared = {**declared, name: t}

    def type_of(name):
        if name in prog.locals:
            return local_t[name]
        return declared[name]

    for _ in range(8):  # fixed point over the scalar temporaries
        changed = False
        for s in prog.statements:
            t = _infer(s.body.value, type_of, s)
            tgt = s.body.target.array
            if s.body.op is not None:
                cur = type_of(tgt)
                t = t if cur is None else _binop_type(s.body.op, cur, t, s)
            if tgt in prog.locals and tgt not in declared and t is not None:
                old = local_t[tgt]
                new = t if old is None else promote(old, t)
                if new != old:
                    local_t[tgt] = new
                    changed = True
        if not changed:
            break
    for name, t in local_t.items():
        if t is None:
            t = WEAK_FLOAT
        if t == BOOL:
            raise UnsupportedError(f"scalar {name!r} holds a truth value; polyk stores numbers "
                                   "only", filename=prog.filename)
        local_t[name] = concrete(t)
    prog.locals = dict(local_t)
    for s in prog.statements:
        _infer(s.body.value, lambda n: prog.locals.get(n) or declared[n], s)
        s.body.target.type = prog.locals.get(s.body.target.array) or declared[
            s.body.target.array]
        for r in s.body.reads:
            r.type = prog.locals.get(r.array) or declared[r.array]
        t = s.body.value.type
        if s.body.op is not None:
            t = _binop_type(s.body.op, s.body.target.type, t, s)
        tgt = s.body.target.array
        if getattr(prog, "language", "python") == "python" and \
                tgt in {a.name for a in prog.args} and tgt in prog.locals:
            _check_scalar_argument_store(tgt, declared[tgt], t, s)


def _check_scalar_argument_store(name, declared, t, stmt):
    """A scalar argument keeps its declared C type, but in Python assigning it a value of
    another type changes the variable's type (``n = n / 2`` makes an i32 ``n`` a float):
    refuse what the two would compute differently."""
    if t == declared or t == WEAK_INT or (t == WEAK_FLOAT and declared.is_float):
        return
    raise _err(stmt, f"assigning a {concrete(t).name} value to argument {name!r} (declared "
                     f"{declared.name}) changes its type when the op runs as Python, but not "
                     f"in the generated code: convert the value, as in {name} = "
                     f"np.{declared.np.name}(...), or assign it to a new variable")


def _err(stmt, msg):
    return UnsupportedError(msg, filename=stmt.filename, line=stmt.line, col=stmt.col,
                            code=stmt.code)


def _binop_type(op, a, b, stmt):
    if a is None or b is None:
        return None
    if op in ("cdiv", "cmod"):
        t = promote(a, b)
        if t == WEAK_FLOAT or (t != WEAK_INT and concrete(t).is_float):
            raise _err(stmt, "internal: C integer division on floating-point operands")
        return t
    if op == "/":
        if a in (WEAK_INT, BOOL) and b in (WEAK_INT, BOOL):
            return WEAK_FLOAT
        return float_of(promote(a, b))
    t = promote(a, b)
    if op in ("//", "%") and (t == WEAK_FLOAT or t not in (WEAK_INT,) and concrete(t).is_float):
        raise _err(stmt, f"floating-point '{op}' is not supported; use math.floor(a / b)")
    return t


def _infer(e, type_of, stmt):
    """Bottom-up types; None while a scalar temporary's type is still unknown."""
    if isinstance(e, ENum):
        e.type = e.fixed or (WEAK_INT if isinstance(e.value, int) else WEAK_FLOAT)
    elif isinstance(e, EIndex):
        e.type = e.fixed or WEAK_INT
    elif isinstance(e, ELoad):
        e.type = type_of(e.array)
    elif isinstance(e, EBin):
        a, b = _infer(e.a, type_of, stmt), _infer(e.b, type_of, stmt)
        if e.op == "**" and a is not None and b is not None:
            t = promote(a, b)
            if not concrete(t).is_float and not (isinstance(e.b, ENum)
                                                  and isinstance(e.b.value, int)
                                                  and e.b.value >= 0):
                raise _err(stmt, "an integer power needs a non-negative constant exponent")
        e.type = _binop_type(e.op, a, b, stmt)
    elif isinstance(e, EUnary):
        e.type = _infer(e.a, type_of, stmt)
    elif isinstance(e, (ECmp, EBool)):
        for c in e.children():
            _infer(c, type_of, stmt)
        e.type = BOOL
    elif isinstance(e, ESelect):
        _infer(e.cond, type_of, stmt)
        a, b = _infer(e.a, type_of, stmt), _infer(e.b, type_of, stmt)
        e.type = None if a is None or b is None else promote(a, b)
    elif isinstance(e, ECall):
        ts = [_infer(a, type_of, stmt) for a in e.args]
        if any(t is None for t in ts):
            e.type = None
        elif e.fn in ("min", "max"):
            e.type = promote(ts[0], ts[1])
        elif e.fn == "abs":
            e.type = ts[0] if ts[0] != WEAK_FLOAT else WEAK_FLOAT
        elif e.fn == "pow":
            e.type = concrete(float_of(promote(ts[0], ts[1])))
        else:
            e.type = concrete(float_of(ts[0]))
    elif isinstance(e, ECast):
        _infer(e.a, type_of, stmt)
        e.type = e.to
    else:
        raise TypeError(e)
    return e.type
