"""Check an isl AST against its schedule: every statement instance runs, and runs once.

isl's AST generator is the one part of the pipeline whose output polyk did not check.
It has been found to drop instances (polyk fuzz, seeds 910068 and 910314): a loop over a
statement's last iterator became a single assignment, because the generator took the
iterator for a function of the outer ones when an existential (``(j + k) mod 2 = 0``)
left two values. The code compiled, ran and was wrong.

The check reads the AST back into isl: each loop contributes ``init <= c``, its
condition and, for a stride, ``(c - init) mod stride = 0``; each ``if`` its condition
(the ``else`` its negation); each statement call its arguments. With the loop iterators
as extra parameters, a call executes the set ``{ S[args] : constraints }``; moving the
iterators into the domain gives a map from loop points to instances. The AST is right
when the union of these sets equals the schedule's domain, every map is injective and two
calls of the same statement never execute the same instance. Expressions are printed in
isl's own syntax and parsed back, so the reading is exact (floor, mod, min, max).
"""

from __future__ import annotations

import islpy as isl

from ..errors import PolykError
from ..isl_budget import is_over_budget, isl_operations

_BIN = {"add": "+", "sub": "-", "mul": "*"}
_CMP = {"eq": "=", "le": "<=", "lt": "<", "ge": ">=", "gt": ">"}


class AstMismatch(PolykError):
    """isl's AST does not execute exactly the schedule's statement instances."""


def _op_name(e: isl.AstExpr) -> str:
    op = e.get_op_type()
    name = op.name if hasattr(op, "name") else str(op).split(".")[-1]
    return name.rstrip("_")           # islpy spells and_, or_, ...


def _expr(e: isl.AstExpr) -> str:
    t = e.get_type()
    if t == isl.ast_expr_type.id:
        return e.get_id().get_name()
    if t == isl.ast_expr_type.int:
        return str(e.get_val().to_python())
    args = [e.get_op_arg(k) for k in range(e.get_op_n_arg())]
    name = _op_name(e)
    a = [_expr(x) for x in args]
    if name in _BIN:
        return f"({a[0]} {_BIN[name]} {a[1]})"
    if name == "minus":
        return f"(-{a[0]})"
    if name in ("div", "pdiv_q", "fdiv_q"):
        return f"floor(({a[0]})/{a[1]})"
    if name in ("pdiv_r", "zdiv_r"):
        return f"(({a[0]}) mod {a[1]})"
    if name in ("min", "max"):
        out = a[0]
        for x in a[1:]:
            out = f"{name}({out}, {x})"
        return out
    if name in _CMP:
        return _compare(name, args[0], args[1])
    if name in ("and", "and_then"):
        return f"({a[0]} and {a[1]})"
    if name in ("or", "or_else"):
        return f"({a[0]} or {a[1]})"
    if name in ("select", "cond"):
        return f"(({a[0]} and {a[1]}) or (not {a[0]} and {a[2]}))" \
            if _is_cond(args[1]) else f"({a[0]} ? {a[1]} : {a[2]})"
    raise AstUnverified(f"cannot read back the AST expression {e.to_C_str()} ({name})")


def _args(e: isl.AstExpr, op: str) -> list[isl.AstExpr] | None:
    """The operands of ``e`` if it is a min or max (``op``), else None."""
    if e.get_type() != isl.ast_expr_type.op or _op_name(e) != op:
        return None
    return [e.get_op_arg(k) for k in range(e.get_op_n_arg())]


def _compare(name: str, x: isl.AstExpr, y: isl.AstExpr) -> str:
    """``x op y`` with loop bounds kept convex: ``c >= max(a, b)`` is ``c >= a and c >= b``
    (isl would read the max as a union of two pieces, and the pieces multiply)."""
    if name in ("ge", "gt"):
        split = (_args(y, "max"), 1) if _args(y, "max") else (_args(x, "min"), 0)
    elif name in ("le", "lt"):
        split = (_args(y, "min"), 1) if _args(y, "min") else (_args(x, "max"), 0)
    else:
        split = (None, 0)
    parts, side = split
    for k, e in ((1, y), (0, x)):
        sel = _args(e, "select") or _args(e, "cond")
        if sel:       # isl reads no ?: -- (c and x op a) or (not c and x op b)
            c = _expr(sel[0])
            pick = [_compare(name, x, v) if k else _compare(name, v, y) for v in sel[1:]]
            return f"(({c} and {pick[0]}) or ((not {c}) and {pick[1]}))"
    if parts:
        terms = [_compare(name, x, p) if side else _compare(name, p, y) for p in parts]
        return "(" + " and ".join(terms) + ")"
    return f"({_expr(x)} {_CMP[name]} {_expr(y)})"


def _is_cond(e: isl.AstExpr) -> bool:
    if e.get_type() != isl.ast_expr_type.op:
        return False
    name = _op_name(e)
    return name in _CMP or name in ("and", "and_then", "or", "or_else")


class _Reader:
    def __init__(self, params: list[str]):
        self.params = params
        self.calls: list[tuple[str, list[str], list[str], list[str]]] = []

    def node(self, n: isl.AstNode, iters: list[str], conds: list[str]):
        t = n.get_type()
        if t == isl.ast_node_type.block:
            children = n.block_get_children()
            for k in range(children.n_ast_node()):
                self.node(children.get_at(k), iters, conds)
        elif t == isl.ast_node_type.mark:
            self.node(n.mark_get_node(), iters, conds)
        elif t == isl.ast_node_type.if_:
            c = _expr(n.if_get_cond())
            self.node(n.if_get_then_node(), iters, conds + [c])
            if n.if_has_else_node():
                self.node(n.if_get_else_node(), iters, conds + [f"not {c}"])
        elif t == isl.ast_node_type.for_:
            it = n.for_get_iterator().get_id().get_name()
            init_e = n.for_get_init()
            init = _expr(init_e)
            own = [_compare("ge", n.for_get_iterator(), init_e)]
            if n.for_is_degenerate():
                own = [_compare("eq", n.for_get_iterator(), init_e)]
            else:
                own.append(_expr(n.for_get_cond()))
                inc = n.for_get_inc().get_val().to_python()
                if inc != 1:
                    own.append(f"(({it}) - ({init})) mod {inc} = 0")
            self.node(n.for_get_body(), iters + [it], conds + own)
        elif t == isl.ast_node_type.user:
            call = n.user_get_expr()
            name = call.get_op_arg(0).get_id().get_name()
            args = [_expr(call.get_op_arg(k)) for k in range(1, call.get_op_n_arg())]
            self.calls.append((name, args, list(iters), list(conds)))
        else:
            raise AstUnverified(f"unexpected AST node of type {t}")


def executed(node: isl.AstNode, params: list[str]) -> list[isl.Map]:
    """Per statement call in the AST: the map from its loop points to the instances it
    executes (parameters as in ``params``)."""
    r = _Reader(params)
    r.node(node, [], [])
    out = []
    for name, args, iters, conds in r.calls:
        names = ", ".join(params + iters)
        body = " and ".join(f"({c})" for c in conds) or "true"
        text = f"[{names}] -> {{ {name}[{', '.join(args)}] : {body} }}"
        try:
            s = isl.Set(text)
        except isl.Error as e:
            if is_over_budget(e):
                raise
            raise AstUnverified(f"cannot read back the AST of {name}: {text}") from None
        npar = len(params)
        m = isl.Map.from_range(s).move_dims(isl.dim_type.in_, 0, isl.dim_type.param,
                                            npar, len(iters))
        out.append(m)
    return out


CHECK_OPERATIONS = 1_000_000   # about a second
# Parameter values the AST is checked at when the check for all values is over its budget:
# small ones, and ones around the default tile size (full tiles appear past 32)
SAMPLE_VALUES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 31, 32, 33, 34, 40, 63,
                 64, 65, 66, 97)
SAMPLE_OPERATIONS = 200_000    # per parameter value


class AstUnverified(PolykError):
    """The check could not tell: over its budget of isl operations, or an AST expression it
    cannot read back."""


def check_ast(node: isl.AstNode, domain: isl.UnionSet, context: isl.Set,
              budget: int | None = CHECK_OPERATIONS) -> str | None:
    """Raise :class:`AstMismatch` unless ``node`` executes each instance of ``domain``
    (under ``context``) exactly once.

    The check for every parameter value may need more than ``budget`` isl operations (the
    subtraction of many pieces with divisions can take minutes: a 2x32-tiled wavefront
    with full/partial separation, fuzz seed 1059; a tiled band under modulo conditions,
    seed 2120010, over 13 minutes). Then the AST is checked at each parameter value of
    ``SAMPLE_VALUES`` instead, where the sets are finite and the check cheap (seed 2120010's
    AST was wrong at N = 6), and the return value says so; :class:`AstUnverified` when no
    value could be checked. An enclosing budget (polyk fuzz sets one) restarts its count
    after the check."""
    params = [context.get_dim_name(isl.dim_type.param, k)
              for k in range(context.dim(isl.dim_type.param))]
    maps = executed(node, params)          # parsing: cheap, outside the budget
    if budget is None:
        return _compare_sets(maps, domain, context)
    try:
        with isl_operations(budget):
            _compare_sets(maps, domain, context)
        return None
    except isl.Error as e:
        if not is_over_budget(e):
            raise
    if not params:
        raise AstUnverified(f"the AST check needs more than {budget} isl operations")
    checked = []
    for values in _samples(params):
        at = context
        for k, v in enumerate(values):
            at = at.fix_val(isl.dim_type.param, k, isl.Val(v))
        if at.is_empty():
            continue
        try:
            with isl_operations(SAMPLE_OPERATIONS):
                _compare_sets(maps, domain, at)
        except isl.Error as e:
            if not is_over_budget(e):
                raise
            continue
        except AstMismatch as e:
            shown = ", ".join(f"{p} = {v}" for p, v in zip(params, values))
            raise AstMismatch(f"at {shown}: {e}") from None
        checked.append(values)
    if not checked:
        raise AstUnverified(f"the AST check needs more than {budget} isl operations, and "
                            f"more than {SAMPLE_OPERATIONS} at each sampled parameter value")
    names = ", ".join(params)
    return (f"AST checked at {len(checked)} values of ({names}) from "
            f"{min(min(v) for v in checked)} to {max(max(v) for v in checked)} only: the "
            f"check for all values needs more than {budget} isl operations")


def _samples(params) -> list[tuple[int, ...]]:
    """Parameter values to check at: all parameters equal, then staggered (so that two
    parameters' differences are exercised)."""
    out = [tuple(v for _ in params) for v in SAMPLE_VALUES]
    if len(params) > 1:
        out += [tuple(v + 3 * k for k in range(len(params))) for v in SAMPLE_VALUES[:12]]
        out += [tuple(v + 3 * (len(params) - 1 - k) for k in range(len(params)))
                for v in SAMPLE_VALUES[:12]]
    return out


def _compare_sets(maps: list[isl.Map], domain: isl.UnionSet, context: isl.Set) -> None:
    domain = domain.intersect_params(context)
    by_stmt: dict[str, list[isl.Set]] = {}
    for m in maps:
        m = m.intersect_params(context).coalesce()
        name = m.get_tuple_name(isl.dim_type.out)
        if not m.is_injective():
            raise AstMismatch(f"the AST runs some instances of {name} more than once")
        by_stmt.setdefault(name, []).append(m.range().coalesce())
    wanted: dict[str, isl.Set] = {}
    domain.foreach_set(lambda s: wanted.__setitem__(s.get_tuple_name(), s))
    for name in set(by_stmt) - set(wanted):
        if not all(r.is_empty() for r in by_stmt[name]):
            raise AstMismatch(f"the AST runs {name}, which has no instances")
    for name, want in wanted.items():
        seen = None
        for r in by_stmt.get(name, []):
            if seen is not None and not r.intersect(seen).is_empty():
                raise AstMismatch(f"two calls of {name} in the AST run the same instances")
            if not r.is_subset(want):
                raise AstMismatch(f"the AST runs instances outside the domain: "
                                  f"{r.subtract(want).coalesce()}")
            seen = r if seen is None else seen.union(r).coalesce()
        missing = want if seen is None else want.subtract(seen)
        if not missing.is_empty():
            raise AstMismatch(f"the AST misses the instances {missing.coalesce()}")
