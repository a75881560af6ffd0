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
        return f"({a[0]} {_CMP[name]} {a[1]})"
    if name in ("and", "and_then"):
        return f"({a[0]} and {a[1]})"
    if name in ("or", "or_else"):
        return f"({a[0]} or {a[1]})"
    if name in ("select", "cond"):
        return f"(({a[0]} and {a[1]}) or (not {a[0]} and {a[2]}))" \
            if _is_cond(args[1]) else f"({a[0]} ? {a[1]} : {a[2]})"
    raise AstMismatch(f"cannot read back the AST expression {e.to_C_str()} ({name})")


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
            init = _expr(n.for_get_init())
            own = [f"{it} >= {init}"]
            if n.for_is_degenerate():
                own = [f"{it} = {init}"]
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
            raise AstMismatch(f"unexpected AST node of type {t}")


def executed(node: isl.AstNode, params: list[str]) -> list[isl.Map]:
    """Per statement call in the AST: the map from its loop points to the instances it
    executes (parameters as in ``params``)."""
    r = _Reader(params)
    r.node(node, [], [])
    out = []
    for name, args, iters, conds in r.calls:
        names = ", ".join(params + iters)
        body = " and ".join(f"({c})" for c in conds) or "true"
        s = isl.Set(f"[{names}] -> {{ {name}[{', '.join(args)}] : {body} }}")
        npar = len(params)
        m = isl.Map.from_range(s).move_dims(isl.dim_type.in_, 0, isl.dim_type.param,
                                            npar, len(iters))
        out.append(m)
    return out


def check_ast(node: isl.AstNode, domain: isl.UnionSet, context: isl.Set) -> None:
    """Raise :class:`AstMismatch` unless ``node`` executes each instance of ``domain``
    (under ``context``) exactly once."""
    params = [context.get_dim_name(isl.dim_type.param, k)
              for k in range(context.dim(isl.dim_type.param))]
    maps = executed(node, params)
    domain = domain.intersect_params(context)
    got = isl.UnionSet.empty(domain.get_space())
    by_stmt: dict[str, list[isl.Set]] = {}
    for m in maps:
        m = m.intersect_params(context)
        if not m.is_injective():
            raise AstMismatch(f"the AST runs some instances of {m.get_tuple_name(isl.dim_type.out)} "
                              "more than once")
        r = m.range()
        name = r.get_tuple_name()
        for other in by_stmt.get(name, []):
            if not other.intersect(r).is_empty():
                raise AstMismatch(f"two calls of {name} in the AST run the same instances")
        by_stmt.setdefault(name, []).append(r)
        got = got.union(isl.UnionSet.from_set(r))
    got = got.intersect_params(context)
    missing = domain.subtract(got)
    if not missing.is_empty():
        raise AstMismatch(f"the AST misses the instances {missing.coalesce()}")
    extra = got.subtract(domain)
    if not extra.is_empty():
        raise AstMismatch(f"the AST runs instances outside the domain: {extra.coalesce()}")
