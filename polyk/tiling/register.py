"""Scalar replacement and vector printing of a register block (printer side of unroll_jam).

Below a register mark (unroll_jam.REGISTER_MARK) the AST has, in full register blocks,

    for (r = ...; ...; r++) {                 the loop kept inside the block (gemm's k)
      [#pragma simd mark] for (v = 0; v <= 15; v++) S(.., r, v)    one per unrolled copy
      ...
    }

``print_register_loop`` prints such an ``r`` loop with

- scalar replacement: every array whose accesses in the loop are all invariant in ``r``
  (gemm's C block) is read once into local variables before the loop, used from them, and
  the elements written are stored back after it (only those);
- the ``v`` loops as vectors of GCC's vector extension (``vector_size``): stride-1
  accesses along ``v`` become vector loads, accesses invariant in ``v`` scalars (GCC
  broadcasts them), accumulators vector variables. Lanes are evaluated with the same
  operations in the same order as the loop, so results are bitwise those of the loop
  (under -ffp-contract=off).

Conditions, checked here from the AST and the access expressions (otherwise None is
returned and the loop is printed as usual): the ``v`` loops have constant bounds and a
simd mark (which the legality checker verified: no dependence carried by ``v``); every
index is affine in the iterators; two replaced accesses to one array are the same element
or provably distinct; an array written along ``r`` (not replaced) is written by scalar
statements only, in place and in the loop's order (bicg's ``s[j]`` next to the ``q[i]``
accumulators); bodies use + - * / on one floating-point type only.
"""

from __future__ import annotations

import cgen as c
import islpy as isl

from ..codegen.c_expr import BodyPrinter, ast_expr, c_name
from ..scop.expr import (AAdd, AConst, AMul, AVar, EBin, ELoad, ENum, EUnary, concrete)
from ..schedule.schedule import simd_mark_depth
from .packing import fold_scaled, packed_for

_OPN = {getattr(isl.ast_expr_op_type, n): n for n in dir(isl.ast_expr_op_type)
        if not n.startswith("_")}


# ---------------------------------------------------------------- affine forms (dicts)

def _lin_add(a, b, sign=1):
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + sign * v
        if out[k] == 0:
            del out[k]
    return out


def _lin_scale(a, f):
    return {k: v * f for k, v in a.items()} if f else {}


def _ast_lin(e: isl.AstExpr, names) -> dict | None:
    """An isl AST expression as {name: coefficient, "": constant}, or None if not affine."""
    t = e.get_type()
    if t == isl.ast_expr_type.int:
        v = int(e.get_val().to_python())
        return {"": v} if v else {}
    if t == isl.ast_expr_type.id:
        n = e.get_id().get_name()
        return {names.get(n, n): 1}
    op = _OPN[e.get_op_type()]
    args = [_ast_lin(e.get_op_arg(i), names) for i in range(e.get_op_n_arg())]
    if op not in ("add", "sub", "minus", "mul") or any(a is None for a in args):
        if all(a is not None and not any(_is_iterator(k) for k in a) for a in args):
            return {ast_expr(e, names): 1}      # a value of the parameters only: a symbol
        return None
    if op == "add":
        return _lin_add(args[0], args[1])
    if op == "sub":
        return _lin_add(args[0], args[1], -1)
    if op == "minus":
        return _lin_scale(args[0], -1)
    if op == "mul":
        for x, y in ((args[0], args[1]), (args[1], args[0])):
            if set(x) <= {""}:
                return _lin_scale(y, x.get("", 0))
    return None


def _is_iterator(name: str) -> bool:
    """isl's loop iterators are c<digits> (or with a longer prefix ending in c)."""
    head = name.rstrip("0123456789")
    return head != name and head.endswith("c") and head.strip("p") == "c"


def _aff_lin(e, env) -> dict | None:
    if isinstance(e, AConst):
        return {"": e.value} if e.value else {}
    if isinstance(e, AVar):
        return env.get(e.name, {e.name: 1})
    if isinstance(e, AAdd):
        a, b = _aff_lin(e.a, env), _aff_lin(e.b, env)
        return None if a is None or b is None else _lin_add(a, b, e.sign)
    if isinstance(e, AMul):
        a = _aff_lin(e.e, env)
        return None if a is None else _lin_scale(a, e.coef)
    return None


def _subst(lin, var, value):
    if var not in lin:
        return lin
    out = dict(lin)
    k = out.pop(var)
    return _lin_add(out, {"": k * value} if k * value else {})


def _lin_c(lin) -> str:
    parts = []
    for k, v in sorted(lin.items(), key=lambda kv: kv[0] == ""):
        if k == "":
            parts.append(str(v))
        else:
            parts.append(k if v == 1 else f"({v} * {k})")
    return "(" + " + ".join(parts) + ")" if parts else "0"


# ---------------------------------------------------------------- AST shape

class _Group:
    """One copy of the vector loop (or a lone statement): lanes lo .. lo+count-1; ``subst``
    gives the values of the enclosing loops that the printer unrolled."""

    def __init__(self, lo, count, users, simd, subst):
        self.lo, self.count, self.users, self.simd = lo, count, users, simd
        self.subst = subst


MAX_UNROLL = 16


def _const_loop(node, printer):
    """(iterator, first, last) of a loop with constant bounds and step 1, else None."""
    it = ast_expr(node.for_get_iterator(), printer.names)
    init = _ast_lin(node.for_get_init(), printer.names)
    if init is None or set(init) - {""}:
        return None
    lo = init.get("", 0)
    if node.for_is_degenerate():
        return it, lo, lo
    cond = node.for_get_cond()
    inc = _ast_lin(node.for_get_inc(), printer.names)
    if inc != {"": 1} or cond.get_type() != isl.ast_expr_type.op:
        return None
    op = _OPN[cond.get_op_type()]
    bound = _ast_lin(cond.get_op_arg(1), printer.names)
    first = cond.get_op_arg(0)
    if op not in ("le", "lt") or bound is None or set(bound) - {""} or \
            first.get_type() != isl.ast_expr_type.id or \
            ast_expr(first, printer.names) != it:
        return None
    hi = bound.get("", 0) - (1 if op == "lt" else 0)
    return (it, lo, hi) if hi >= lo else None


def _collect(node: isl.AstNode, v_it, printer, simd=False, subst=None):
    """The statement groups of the body of the r loop, in order; None where the shape is
    not a register block (a loop with non-constant bounds, a condition, ...)."""
    subst = subst or {}
    t = node.get_type()
    if t == isl.ast_node_type.block:
        kids = node.block_get_children()
        out = []
        for i in range(kids.n_ast_node()):
            got = _collect(kids.get_at(i), v_it, printer, simd, subst)
            if got is None:
                return None
            out += got
        return out
    if t == isl.ast_node_type.mark:
        depth = simd_mark_depth(node.mark_get_id().get_name())
        return _collect(node.mark_get_node(), v_it, printer,
                        simd or (depth is not None and f"{printer.prefix}{depth}" == v_it),
                        subst)
    if t == isl.ast_node_type.user:
        return [_Group(None, 1, [node.user_get_expr()], simd, subst)]
    if t != isl.ast_node_type.for_:
        return None
    loop = _const_loop(node, printer)
    if loop is None:
        return None
    it, lo, hi = loop
    if it != v_it:
        # an unroll-and-jam copy loop (or any short constant loop): unrolled here
        if hi - lo + 1 > MAX_UNROLL:
            return None
        out = []
        for val in range(lo, hi + 1):
            got = _collect(node.for_get_body(), v_it, printer, simd, {**subst, it: val})
            if got is None:
                return None
            out += got
        return out
    users = []
    body = node.for_get_body()
    kids = [body]
    if body.get_type() == isl.ast_node_type.block:
        lst = body.block_get_children()
        kids = [lst.get_at(i) for i in range(lst.n_ast_node())]
    for k in kids:
        if k.get_type() != isl.ast_node_type.user:
            return None
        users.append(k.user_get_expr())
    return [_Group(lo, hi - lo + 1, users, simd, subst)]


_OK_NODES = (EBin, EUnary, ENum, ELoad)


def _vectorisable_body(stmt, dtype) -> bool:
    def ok(e):
        if not isinstance(e, _OK_NODES):
            return False
        if isinstance(e, EBin) and e.op not in ("+", "-", "*", "/"):
            return False
        if not isinstance(e, ENum) and concrete(e.type) != dtype:
            return False
        return all(ok(ch) for ch in e.children())

    body = stmt.body
    if body.op not in (None, "+", "-", "*", "/"):
        return False
    return concrete(body.target.type) == dtype and ok(body.value)


def _chunks(lo, count, lanes):
    out, pos, left = [], lo, count
    while left:
        w = 1
        while w * 2 <= min(lanes, left):
            w *= 2
        out.append((pos, w))
        pos += w
        left -= w
    return out


# ---------------------------------------------------------------- printing

def print_register_loop(printer, n: isl.AstNode):
    """cgen for the ``r`` loop ``n`` with scalar replacement and vectors, or None."""
    r_it, v_it = printer.register
    if ast_expr(n.for_get_iterator(), printer.names) != r_it or n.for_is_degenerate():
        return None
    groups = _collect(n.for_get_body(), v_it, printer)
    if not groups:
        return None
    scop = printer.scop
    # every statement instance: (stmt, {iterator: lin})
    insts = []
    dtype = None
    for g in groups:
        if g.count > 1 and (not g.simd or not printer.simd):
            return None
        for e in g.users:
            stmt = printer.stmts[e.get_op_arg(0).get_id().get_name()]
            lins = [_ast_lin(e.get_op_arg(k + 1), printer.names)
                    for k in range(e.get_op_n_arg() - 1)]
            if any(x is None for x in lins):
                return None
            for name, val in g.subst.items():
                lins = [_subst(x, name, val) for x in lins]
            t = concrete(stmt.body.target.type)
            dtype = dtype or t
            if not t.is_float or t != dtype or not _vectorisable_body(stmt, dtype):
                return None
            insts.append((g, stmt, dict(zip(stmt.iterators, lins))))
    lanes = max(1, printer.vector_bytes // dtype.np.itemsize)
    if sum(len(g.users) * -(-g.count // lanes) for g in groups) > 8 * MAX_UNROLL:
        return None
    # classify every array access
    refs_of = {}          # array -> list of (index lins (with v), is_write, in a vector group)
    for g, stmt, env in insts:
        body = stmt.body
        refs = [(body.target, True)] + [(x, False) for x in body.value.walk()
                                        if isinstance(x, ELoad)]
        if body.op is not None:
            refs.append((body.target, False))
        for ref, wr in refs:
            if not ref.indices:
                if wr:
                    return None          # a scalar written in the block
                continue
            idx = _layout(printer, ref, stmt.name, [_aff_lin(a, env) for a in ref.indices])
            if any(x is None for x in idx):
                return None
            if g.count > 1:
                vc = [x.get(v_it, 0) for x in idx]
                if any(vc[:-1]) or vc[-1] not in (0, 1) or (wr and vc[-1] == 0):
                    return None
            refs_of.setdefault(ref.array, []).append((idx, wr, g.count > 1))
    replaced = {a for a, lst in refs_of.items()
                if all(not any(r_it in x for x in idx) for idx, _, _ in lst)}
    # an array written along r stays in memory, its accesses in the loop's order (bicg's
    # s[j] next to the q[i] accumulators); a vector store of one is not printed here
    if any(wr and vec and a not in replaced
           for a, lst in refs_of.items() for _, wr, vec in lst):
        return None
    if not any(wr for a in replaced for _, wr, _ in refs_of[a]):
        return None
    return _emit(printer, n, insts, replaced, lanes, dtype, r_it, v_it)


def _layout(printer, ref, stmt, idx):
    """Index forms in the order of the storage the access reads: a packed buffer's
    dimensions may be a permutation of the array's (packing.py, transposed groups)."""
    p = packed_for(printer, ref, stmt)
    return [idx[k] for k in p.perm] if p is not None and p.perm else idx


def _key(array, idx, v_it, base, width):
    lins = [_subst(x, v_it, base) for x in idx]
    w = width if idx[-1].get(v_it, 0) else 1
    return array, tuple(tuple(sorted(x.items())) for x in lins), w


def _distinct(k1, k2) -> bool:
    """Two replaced element ranges are disjoint (they are not equal)."""
    (_, i1, w1), (_, i2, w2) = k1, k2
    diffs = [_lin_add(dict(a), dict(b), -1) for a, b in zip(i1, i2)]
    if any(set(d) - {""} for d in diffs):
        return False
    if any(d.get("", 0) for d in diffs[:-1]):
        return True
    d = diffs[-1].get("", 0)          # start of range 2 minus start of range 1
    return d >= w1 or -d >= w2


def _emit(printer, n, insts, replaced, lanes, dtype, r_it, v_it):
    scop = printer.scop
    ctype = dtype.ctype
    vtypes = {}

    def vtype(w):
        if w == 1:
            return ctype
        name = f"polyk_{dtype.name}x{w}"
        vtypes[w] = f"typedef {ctype} {name} __attribute__((vector_size({w * dtype.np.itemsize})));"
        return name

    accs = {}             # key -> (name, width, written)
    order = []
    body_lines = []
    tmp = [0]

    for g, stmt, env in insts:
        chunks = _chunks(g.lo, g.count, lanes) if g.lo is not None else [(None, 1)]
        for base, w in chunks:
            cenv_lin = {k: (_subst(v, v_it, base) if base is not None else v)
                        for k, v in env.items()}
            cenv = dict(printer.names)
            cenv.update({k: _lin_c(v) for k, v in cenv_lin.items()})
            pre = []

            def access(ref, names, _g=g, _env=env, _base=base, _w=w, _cenv=cenv, _pre=pre,
                       _s=stmt.name):
                if not ref.indices:
                    return printer.access(ref, _cenv, _s)
                idx = _layout(printer, ref, _s, [_aff_lin(a, _env) for a in ref.indices])
                vec = _w > 1 and idx[-1].get(v_it, 0) == 1
                if ref.array in replaced:
                    key = _key(ref.array, idx, v_it, _base if _base is not None else 0, _w)
                    if key not in accs:
                        accs[key] = [f"polyk_r{len(accs)}", key[2], False, ref, _cenv, _s]
                        order.append(key)
                    return accs[key][0]
                if not vec:
                    return printer.access(ref, _cenv, _s)
                name = f"polyk_t{tmp[0]}"
                tmp[0] += 1
                _pre.append(f"{vtype(_w)} {name}; __builtin_memcpy(&{name}, "
                            f"&{printer.access(ref, _cenv, _s)}, sizeof({name}));")
                return name

            text = BodyPrinter(scop.arrays, cenv, access,
                               fold_scaled(printer, stmt.name, access)).assign(stmt.body)
            tgt = stmt.body.target
            if tgt.indices and tgt.array in replaced:
                idx = _layout(printer, tgt, stmt.name, [_aff_lin(a, env) for a in tgt.indices])
                key = _key(tgt.array, idx, v_it, base if base is not None else 0, w)
                accs[key][2] = True
            body_lines += [c.Line(p) for p in pre] + [c.Statement(text)]
    keys = list(accs)
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if keys[i][0] == keys[j][0] and not _distinct(keys[i], keys[j]):
                return None
    loads, stores = [], []
    for key in order:
        name, w, written, ref, cenv, sname = accs[key]
        addr = printer.access(ref, cenv, sname)
        if w == 1:
            loads.append(c.Line(f"{ctype} {name} = {addr};"))
            if written:
                stores.append(c.Statement(f"{addr} = {name}"))
        else:
            loads.append(c.Line(f"{vtype(w)} {name}; __builtin_memcpy(&{name}, &{addr}, "
                                f"sizeof({name}));"))
            if written:
                stores.append(c.Statement(f"__builtin_memcpy(&{addr}, &{name}, "
                                          f"sizeof({name}))"))
    it = r_it
    init = ast_expr(n.for_get_init(), printer.names)
    cond = ast_expr(n.for_get_cond(), printer.names)
    inc = ast_expr(n.for_get_inc(), printer.names)
    step = f"{it}++" if inc == "1" else f"{it} += {inc}"
    loop = c.For("", cond, step, c.Block(body_lines))
    types = [c.Line(t) for _, t in sorted(vtypes.items())]
    printer.register_blocks = getattr(printer, "register_blocks", 0) + 1
    return c.Block(types + [c.Line(f"int64_t {it} = {init};"),
                            c.If(cond, c.Block(loads + [loop] + stores))])
