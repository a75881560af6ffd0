"""Print a scheduled SCoP as a C function: isl's AST generator, then a walk that builds cgen
nodes (loops, guards, statements) - no string pasting of program structure.

The function takes the symbolic parameters first (``int64_t``), then the op's arguments in
signature order: arrays as ``restrict`` pointers to contiguous row-major data (``const``
when only read), scalars by value. Iterators and index arithmetic are 64-bit.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from dataclasses import dataclass, field

import cgen as c
import islpy as isl

from ..isl_budget import is_over_budget
from ..schedule.schedule import parallel_mark_depths, simd_mark_depth
from ..scop.dependences import dataflow
from ..scop.expr import aff_to_c
from ..tiling.packing import attach as attach_packing
from ..tiling.packing import fold_scaled, pack_mark_arrays, packed_for, print_pack_mark
from ..tiling.register import print_register_loop
from ..tiling.separation import without_separation
from ..tiling.unroll_jam import register_mark_depths
from .ast_check import AstMismatch, AstUnverified, check_ast
from .c_expr import BodyPrinter, ast_expr, c_name, iterator_prefix

log = logging.getLogger(__name__)

# A parallel loop without inner loops runs in parallel from this many iterations on
# (``if`` clause): atax's initialisations (1900 and 2100 iterations) cost 1-2% of the
# kernel in parallel, the wake-up of the sleeping team more than their work.
PARALLEL_MIN_FLAT = 1 << 14

HELPERS = r"""
static inline int64_t polyk_floordiv(int64_t a, int64_t b)
{ int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
static inline int64_t polyk_mod(int64_t a, int64_t b)
{ int64_t r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
"""
_MINMAX = ("static inline {t} polyk_min_{n}({t} a, {t} b) {{ return b < a ? b : a; }}\n"
           "static inline {t} polyk_max_{n}({t} a, {t} b) {{ return b > a ? b : a; }}\n")
_ABS = "static inline {t} polyk_abs_{n}({t} a) {{ return a < 0 ? -a : a; }}\n"


@dataclass
class CFunction:
    """Generated C: the source text, the entry point and how to call it."""

    text: str
    name: str
    params: list[str]                 # parameters passed, in order
    args: list                        # ArgSpec of the op, in order
    ast: isl.AstNode = field(repr=False)


def build_ast(scop, schedule, notes: list | None = None) -> isl.AstNode:
    """isl's AST for the schedule tree, under the SCoP's context; loop iterators are named
    c0, c1, ... (or with another prefix if the program has such names).

    The AST is checked against the schedule's domain (codegen/ast_check.py); a wrong one
    raises :class:`AstMismatch`. Where the check is over its budget the AST is used
    unverified and ``notes`` (when given) says so."""
    tree = schedule.tree if hasattr(schedule, "tree") else schedule
    build = isl.AstBuild.from_context(scop.context)
    names = list(scop.params) + list(scop.arrays) + [a.name for a in scop.args]
    prefix = iterator_prefix(names)
    if prefix != "c":
        ids = isl.IdList.alloc(isl.DEFAULT_CONTEXT, 64)
        for k in range(64):
            ids = ids.add(isl.Id(f"{prefix}{k}"))
        build = build.set_iterators(ids)
    build = attach_packing(build, scop)
    problem = None
    for form, note in _forms(tree):
        try:
            node = build.node_from_schedule(form)
        except isl.Error as e:
            if is_over_budget(e):
                raise
            problem = AstMismatch(f"isl's AST generator failed: {e}")
            log.warning("isl's AST generator failed for %s (%s); trying another form",
                        scop.name, e)
            continue
        if note and notes is not None:
            notes.append(note)
        try:
            partly = check_ast(node, tree.get_domain(), scop.context)
            if partly is not None:
                log.info("%s: %s", scop.name, partly)
                if notes is not None:
                    notes.append(partly)
            return node
        except AstUnverified as e:
            log.info("%s: %s; the AST is not verified", scop.name, e)
            if notes is not None:
                notes.append(f"AST not verified: {e}")
            return node
        except AstMismatch as e:
            problem = e
            log.warning("isl's AST for %s is wrong (%s); trying another form", scop.name, e)
    raise problem


def _forms(tree: isl.Schedule):
    """The trees the AST is built from, in order of preference, with a note for the last."""
    yield canonical(tree), None
    yield tree, None
    plain = without_separation(tree)
    if plain is not None:
        yield canonical(plain), ("full/partial tile separation dropped: isl's AST for the "
                                 "separated tree failed")


def canonical(tree: isl.Schedule) -> isl.Schedule:
    """The schedule tree re-read from its own text. isl's AST generator can drop statement
    instances for some orders of the same domain's constraints (found by polyk fuzz, seed
    910314: a loop over a tile's points became a guard, 2 of 72 elements wrong; the same
    tree re-read gives the right loops; ``ast_check`` catches what this does not).
    Re-reading gives every tree the constraint order of its printed form, so the code is a
    function of the schedule that ``explain`` prints; mark ids carry no user data, so
    nothing is lost."""
    try:
        return isl.Schedule.read_from_str(tree.get_ctx(), tree.to_str())
    except isl.Error:
        # isl prints a mark over a leaf as { mark: "..." } and cannot read that back
        # (a CUDA kernel mark over a statement with no loop); the check still runs
        return tree


def print_c(scop, schedule, *, name: str | None = None,
            omp_schedule: str = "static", simd: str | bool = "omp",
            scalar_replace: bool = True, vector_bytes: int = 64) -> CFunction:
    """C source of ``scop`` run in the order of ``schedule``; ``simd``: how loops under a
    simd mark are marked ("omp": ``#pragma omp simd``, "ivdep", False: not at all);
    ``vector_bytes``: the size of the vector types register blocks are printed with."""
    t0 = time.perf_counter()
    fname = name or f"polyk_{c_name(scop.name)}"
    ast_notes: list[str] = []
    node = build_ast(scop, schedule, ast_notes)
    free_params = [p for p in scop.params if p not in scop.fixed]
    names = {p: c_name(p) for p in scop.params}
    printer = _Printer(scop, names, fname=fname)
    printer.root = node
    printer.vector_bytes = vector_bytes
    printer.omp_schedule = omp_schedule
    printer.simd = simd
    printer.scalar_replace = scalar_replace
    body = printer.node(node)

    decls = _fixed_sizes(scop, names)
    for a in scop.arrays.values():
        if a.kind == "local":
            decls.append(c.Line(f"{a.dtype.ctype} {c_name(a.name)};"))
    fn_args = [c.Value("int64_t", names[p]) for p in free_params]
    written = scop.written_arrays
    for a in scop.args:
        if a.is_array:
            ptr = c.RestrictPointer(c.Value(a.dtype.ctype, c_name(a.name)))
            fn_args.append(ptr if a.name in written else c.Const(ptr))
        else:
            fn_args.append(c.Value(a.dtype.ctype, c_name(a.name)))
    fn = c.FunctionBody(c.FunctionDeclaration(c.Value("void", fname), fn_args),
                        c.Block(decls + body))

    header = _header(scop, fname, free_params, schedule)
    header += "".join(f"\n  {n}" for n in ast_notes)
    helpers = _helpers()
    includes = [c.Include("stdint.h"), c.Include("math.h")]
    if printer.used_openmp:
        includes.append(c.Include("omp.h"))
    module = c.Module([c.Comment(header), *includes, c.Line(helpers), *printer.outlined, fn])
    text = str(module) + "\n"
    log.debug("printed C for %s in %.1f ms", scop.name, 1e3 * (time.perf_counter() - t0))
    return CFunction(text, fname, free_params, list(scop.args), node)


def print_region(scop, schedule, *, omp_schedule: str = "static",
                 simd: str | bool = "omp") -> tuple[str, str]:
    """C that replaces a ``#pragma scop`` region in place (``polyk compile``), and the
    helper definitions to put before the enclosing function.

    The region keeps the function's own variables: scalars and temporaries by name, arrays
    through flat ``restrict`` pointers to their first element (polyk indexes row-major)."""
    node = build_ast(scop, schedule)
    names = {p: c_name(p) for p in scop.params}
    flat = {a.name: f"polyk_{a.name}" for a in scop.args if a.is_array}
    printer = _Printer(scop, names, array_names=flat)
    printer.root = node
    printer.omp_schedule = omp_schedule
    printer.simd = simd
    body = printer.node(node)
    decls = _fixed_sizes(scop, names)
    for name in scop.program.region_locals:
        if name in scop.arrays:
            decls.append(c.Line(f"{scop.arrays[name].dtype.ctype} {name};"))
    written = scop.written_arrays
    for a in scop.args:
        if a.is_array:
            first = a.name + "[0]" * len(a.shape)
            const = "" if a.name in written else "const "
            decls.append(c.Line(f"{const}{a.dtype.ctype} *restrict {flat[a.name]} = "
                                f"({const}{a.dtype.ctype} *)&{first};"))
    block = c.Block([c.Comment(f"polyk: {getattr(schedule, 'scheduler', '')} schedule of "
                               "the scop region")] + decls + body)
    helpers = ("#ifndef POLYK_HELPERS\n#define POLYK_HELPERS\n#include <stdint.h>\n"
               f"{_helpers()}#endif\n")
    helpers += "".join(str(f) + "\n" for f in printer.outlined)
    return str(block), helpers


def _fixed_sizes(scop, names) -> list:
    """Declarations of the parameters fixed by sizes=... (the code is specialised)."""
    return [c.Line(f"const int64_t {names[p]} = {int(v)};") for p, v in scop.fixed.items()]


def _helpers() -> str:
    out = HELPERS
    for t, n in (("int64_t", "i64"), ("int32_t", "i32"), ("double", "f64"), ("float", "f32")):
        out += _MINMAX.format(t=t, n=n)
    for t, n in (("int64_t", "i64"), ("int32_t", "i32")):
        out += _ABS.format(t=t, n=n)
    return out


def _header(scop, fname, free_params, schedule) -> str:
    sig = []
    for p in free_params:
        sig.append(f"    {p}: int64_t parameter")
    for a in scop.args:
        if a.is_array:
            dims = "][".join(repr(d) for d in a.shape)
            mode = "in/out" if a.name in scop.written_arrays else "in"
            sig.append(f"    {a.name}: {a.dtype.ctype}[{dims}], row-major, contiguous ({mode})")
        else:
            sig.append(f"    {a.name}: {a.dtype.ctype} scalar")
    fixed = f"\n  specialised for {scop.fixed}" if scop.fixed else ""
    return (f"polyk kernel {scop.name} ({scop.filename}){fixed}\n"
            f"  void {fname}(\n" + ",\n".join(sig) + ")\n"
            f"  parameters must satisfy {scop.context}\n"
            f"  schedule: {getattr(schedule, 'scheduler', 'given')}")


class _Printer:
    def __init__(self, scop, names, array_names=None, fname=None):
        self.scop = scop
        self.names = names
        self.in_parallel = False
        self.used_openmp = False
        self.array_names = array_names or {}
        self.stmts = {s.name: s for s in scop.statements}
        self.fname = fname or f"polyk_{c_name(scop.name)}"
        self.iterators: list[str] = []    # loop variables in scope
        self.prefix = iterator_prefix(list(scop.params) + list(scop.arrays)
                                      + [a.name for a in scop.args])
        self.outlined: list = []          # bodies of parallel loops, as static functions
        self.simd = "omp"                 # how simd marks are printed (False: not at all)
        self.register = None              # (r, v) iterators inside a register mark
        self.packed = {}                  # array -> its tile buffers (tiling/packing.py)
        self.scalar_replace = True        # register blocks printed by tiling/register.py
        self.vector_bytes = 64            # vector size of register blocks
        self.omp_schedule = "static"
        self.root = None                  # the whole AST (for reads outside a loop)
        self._flow_cache: dict[str, set] = {}
        self._root_calls = None           # statement calls in the whole AST (a Counter)

    def node(self, n: isl.AstNode, pragma: tuple | None = None) -> list:
        """cgen nodes for an AST node; ``pragma`` is (text, iterator): the text goes before
        the outermost loops below over that iterator (the marked schedule dimension); the
        search goes on through the loops of outer dimensions (a mark above a band names a
        member below its first), and a loop over a deeper dimension ends it (the marked
        dimension was a single value there, and deeper loops are not the parallel one)."""
        t = n.get_type()
        if t == isl.ast_node_type.block:
            kids = n.block_get_children()
            out = []
            for i in range(kids.n_ast_node()):
                out += self.node(kids.get_at(i), pragma)
            return out
        if t == isl.ast_node_type.for_:
            it = ast_expr(n.for_get_iterator(), self.names)
            if pragma is not None and it != pragma[1] and \
                    self._depth(it) < self._depth(pragma[1]):
                return [self.loop(n, pragma)]     # an outer member of the marked band
            if pragma is not None and len(pragma) > 2 and pragma[2] and (
                    self._depth(it) > self._depth(pragma[1])
                    or (it == pragma[1] and n.for_is_degenerate())):
                # the marked dimension is a single value here: the band's next parallel
                # member takes the pragma
                nxt = (pragma[0], pragma[2][0], pragma[2][1:])
                if it == pragma[1]:
                    return [self.loop(n, nxt)]
                return self.node(n, nxt)
            if pragma is None or n.for_is_degenerate() or it != pragma[1]:
                return [self.loop(n)]
            if self._escaping(n):
                return [self.loop(n)]
            if pragma[0] == "simd":
                return [c.Pragma(self._simd_pragma(n)), self.loop(n)]
            self.in_parallel = True
            self.used_openmp = True
            inner = self._collapsible(n, pragma)
            text = pragma[0]
            if inner:
                text = text.replace("omp parallel for",
                                    f"omp parallel for collapse({1 + len(inner)})", 1)
            small = self._small_flat_loop(n) if not inner else None
            if small:
                text += f" if({small})"
            try:
                return [c.Pragma(text), self.parallel_loop(n, inner)]
            finally:
                self.in_parallel = False
        if t == isl.ast_node_type.if_:
            cond = _strip(ast_expr(n.if_get_cond(), self.names))
            then = c.Block(self.node(n.if_get_then_node(), pragma))
            other = (c.Block(self.node(n.if_get_else_node(), pragma))
                     if n.if_has_else_node() else None)
            return [c.If(cond, then, other)]
        if t == isl.ast_node_type.user:
            return [self.user(n.user_get_expr())]
        if t == isl.ast_node_type.mark:
            mark = n.mark_get_id().get_name()
            inner = n.mark_get_node()
            if pack_mark_arrays(mark) is not None:
                return print_pack_mark(self, n, pragma)
            reg = register_mark_depths(mark)
            if reg is not None and self.scalar_replace:
                saved = self.register
                self.register = tuple(f"{self.prefix}{d}" for d in reg)
                try:
                    return self.node(inner, pragma)
                finally:
                    self.register = saved
            depths = parallel_mark_depths(mark)
            if depths is not None and depths[0] >= 0 and pragma is None and \
                    not self.in_parallel:
                its = [f"{self.prefix}{d}" for d in depths]
                return self.node(inner, pragma=(self._omp_pragma(inner), its[0],
                                                tuple(its[1:])))
            depth = simd_mark_depth(mark)
            if depth is not None and depth >= 0 and pragma is None and self.simd:
                return self.node(inner, pragma=("simd", f"{self.prefix}{depth}"))
            return self.node(inner, pragma=pragma)
        raise NotImplementedError(f"isl AST node type {t}")

    def _omp_pragma(self, n: isl.AstNode) -> str:
        """``omp parallel for``; the loop's body is a function of its own (parallel_loop),
        so its scalar temporaries are private without a clause."""
        return f"omp parallel for schedule({self.omp_schedule})"

    def _simd_pragma(self, n: isl.AstNode) -> str:
        """``omp simd`` (scalars written in the body private) or ``GCC ivdep``."""
        if self.simd == "ivdep":
            return "GCC ivdep"
        private = sorted(c_name(v) for v in self._written_scalars(n))
        return "omp simd" + (f" private({', '.join(private)})" if private else "")

    @staticmethod
    def _calls(n: isl.AstNode) -> collections.Counter:
        """How many statement calls below ``n`` there are of each statement."""
        out = collections.Counter()

        def visit(node):
            if node.get_type() == isl.ast_node_type.user:
                out[node.user_get_expr().get_op_arg(0).get_id().get_name()] += 1
            return True

        n.foreach_descendant_top_down(visit)
        return out

    def _scalar_flow(self, v: str) -> set[tuple[str, str]]:
        """(writer, reader) statement pairs between which the value of scalar ``v`` flows,
        from isl's dataflow under the program's own order."""
        if v not in self._flow_cache:
            def accesses(kind):
                out = isl.UnionMap.empty(self.scop.context.get_space())
                for s in self.scop.statements:
                    for a in s.accesses:
                        if a.kind == kind and a.array == v:
                            out = out.union(isl.UnionMap.from_map(a.relation))
                return out
            dep = dataflow(self.scop.schedule, accesses("read"), must=accesses("write"))
            pairs = set()
            dep.foreach_map(lambda m: pairs.add((m.get_tuple_name(isl.dim_type.in_),
                                                 m.get_tuple_name(isl.dim_type.out))))
            self._flow_cache[v] = pairs
        return self._flow_cache[v]

    def _escaping(self, n: isl.AstNode) -> set[str]:
        """Scalars written in loop ``n`` whose value a statement call outside it reads. A
        parallel loop keeps such a scalar in its outlined function and a simd loop makes it
        private, so the value would not reach that read: isl's AST can peel a statement out
        of the loop (its only instance at the last iteration) although the schedule puts it
        in the loop's last iteration (polyk fuzz seeds 760045, 1000024). Such a loop is
        printed without its pragma."""
        written = self._written_scalars(n)
        if not written or self.root is None:
            return set()
        if self._root_calls is None:
            self._root_calls = self._calls(self.root)
        inside, everywhere = self._calls(n), self._root_calls
        outside = {s for s in everywhere if everywhere[s] > inside[s]}
        out = {v for v in written
               if any(w in inside and r in outside for w, r in self._scalar_flow(v))}
        if out:
            log.info("%s: a loop is printed sequential: the values of %s written in it are "
                     "read after it", self.scop.name, ", ".join(sorted(out)))
        return out

    def _written_scalars(self, n: isl.AstNode) -> set[str]:
        out = set()

        def visit(node):
            if node.get_type() == isl.ast_node_type.user:
                name = node.user_get_expr().get_op_arg(0).get_id().get_name()
                for a in self.stmts[name].writes():
                    if not self.scop.arrays[a.array].shape:
                        out.add(a.array)
            return True

        n.foreach_descendant_top_down(visit)
        return out

    def _depth(self, iterator: str) -> int:
        """The schedule depth of an iterator name (``c3`` -> 3)."""
        tail = iterator[len(self.prefix):]
        return int(tail) if iterator.startswith(self.prefix) and tail.isdigit() else -1

    def loop(self, n: isl.AstNode, pragma: tuple | None = None):
        if self.register is not None:
            block = print_register_loop(self, n)
            if block is not None:
                return block
        it = ast_expr(n.for_get_iterator(), self.names)
        init = ast_expr(n.for_get_init(), self.names)
        self.iterators.append(it)
        try:
            body = self.node(n.for_get_body(), pragma)
        finally:
            self.iterators.pop()
        if n.for_is_degenerate():
            return c.Block([c.Line(f"const int64_t {it} = {init};")] + body)
        cond = _strip(ast_expr(n.for_get_cond(), self.names))
        inc = ast_expr(n.for_get_inc(), self.names)
        step = f"{it}++" if inc == "1" else f"{it} += {inc}"
        return c.For(f"int64_t {it} = {init}", cond, step, c.Block(body))

    def _small_flat_loop(self, n: isl.AstNode) -> str | None:
        """For a parallel loop with no loop inside (atax's y[i] = 0, durbin's z[i] = ...):
        the C condition under which it is worth its threads, at least PARALLEL_MIN_FLAT
        iterations, else None. Waking the team costs microseconds, more when its threads
        sleep; such a loop of a few thousand iterations takes less than that."""
        found = []

        def visit(node):
            if node.get_type() == isl.ast_node_type.for_:
                found.append(node)
            return True
        n.for_get_body().foreach_descendant_top_down(visit)
        if found or n.for_is_degenerate():
            return None
        cond = n.for_get_cond()
        if cond.get_type() != isl.ast_expr_type.op or ast_expr(n.for_get_inc(),
                                                                self.names) != "1":
            return None
        op = cond.get_op_type()
        if op not in (isl.ast_expr_op_type.lt, isl.ast_expr_op_type.le):
            return None
        it = ast_expr(n.for_get_iterator(), self.names)
        if ast_expr(cond.get_op_arg(0), self.names) != it:
            return None
        hi = ast_expr(cond.get_op_arg(1), self.names)
        lo = ast_expr(n.for_get_init(), self.names)
        extra = " + 1" if op == isl.ast_expr_op_type.le else ""
        trips = f"({hi})" + ("" if lo == "0" else f" - ({lo})") + extra
        return f"{trips} >= {PARALLEL_MIN_FLAT}"

    def _collapsible(self, n: isl.AstNode, pragma: tuple) -> list:
        """The loops below parallel loop ``n`` that OpenMP may collapse with it: nested
        perfectly, over the marked band's next parallel members at consecutive depths,
        with bounds free of the iterators outside them (a rectangular band of tiles).
        Collapsing parallel members is legal: two iterations of the collapsed nest differ
        in some member, the outermost such carries no dependence with the outer ones equal.
        It gives the threads work where the first member has few tiles (conv2d's batch of
        8 images in tiles of 32)."""
        out = []
        its = [ast_expr(n.for_get_iterator(), self.names)]
        rest = list(pragma[2]) if len(pragma) > 2 else []
        body = n.for_get_body()
        while rest and body.get_type() == isl.ast_node_type.for_ and \
                not body.for_is_degenerate():
            it = ast_expr(body.for_get_iterator(), self.names)
            if it != rest[0] or self._depth(it) != self._depth(its[-1]) + 1:
                break
            bounds = " ".join(ast_expr(e, self.names) for e in (
                body.for_get_init(), body.for_get_cond(), body.for_get_inc()))
            if any(re.search(rf"\b{v}\b", bounds) for v in its):
                break
            out.append(body)
            its.append(it)
            rest.pop(0)
            body = body.for_get_body()
        return out

    def parallel_loop(self, n: isl.AstNode, inner=()):
        """A parallel loop whose body is outlined into a static function taking every array
        as a ``restrict`` pointer: code inside an OpenMP region loses the restrict of the
        enclosing function's parameters, and with it vectorisation without alias checks.
        Scalar temporaries written in the body are locals of that function (private).
        ``inner``: loops nested in ``n`` collapsed with it (``_collapsible``)."""
        loops = [n, *inner]
        heads = []
        for m in loops:
            heads.append((ast_expr(m.for_get_iterator(), self.names),
                          ast_expr(m.for_get_init(), self.names),
                          _strip(ast_expr(m.for_get_cond(), self.names)),
                          ast_expr(m.for_get_inc(), self.names)))
        its = [h[0] for h in heads]
        outer = list(self.iterators)
        self.iterators.extend(its)
        try:
            body = self.node(loops[-1].for_get_body())
        finally:
            del self.iterators[len(outer):]
        written = self._written_scalars(n)
        scop = self.scop
        params, args = [], []
        for v in outer + its:
            params.append(c.Value("int64_t", v))
            args.append(v)
        for p in scop.params:
            if p not in scop.fixed:
                params.append(c.Value("int64_t", self.names[p]))
                args.append(self.names[p])
        for a in scop.args:
            name = self.array_names.get(a.name) or c_name(a.name)
            if a.is_array:
                ptr = c.RestrictPointer(c.Value(a.dtype.ctype, name))
                params.append(ptr if a.name in scop.written_arrays else c.Const(ptr))
                args.append(name)
            elif a.name not in written:
                params.append(c.Value(a.dtype.ctype, name))
                args.append(name)
        decls = _fixed_sizes(scop, self.names)
        for arr in scop.arrays.values():
            if arr.shape:
                continue
            if arr.name in written:
                decls.append(c.Line(f"{arr.dtype.ctype} {c_name(arr.name)};"))
            elif arr.kind == "local":
                params.append(c.Value(arr.dtype.ctype, c_name(arr.name)))
                args.append(c_name(arr.name))
        fname = f"{self.fname}_par{len(self.outlined)}"
        self.outlined.append(c.FunctionBody(
            c.FunctionDeclaration(c.Value("static __attribute__((noinline)) void", fname),
                                  params),
            c.Block(decls + body)))
        nest = c.Statement(f"{fname}({', '.join(args)})")
        for it, init, cond, inc in reversed(heads):
            step = f"{it}++" if inc == "1" else f"{it} += {inc}"
            nest = c.For(f"int64_t {it} = {init}", cond, step, c.Block([nest]))
        return nest

    def user(self, e: isl.AstExpr):
        name = e.get_op_arg(0).get_id().get_name()
        stmt = self.stmts[name]
        args = [ast_expr(e.get_op_arg(k + 1), self.names) for k in range(e.get_op_n_arg() - 1)]
        env = dict(self.names)
        for it, a in zip(stmt.iterators, args):
            env[it] = a if _simple(a) else f"({a})"
        def access(ref, names):
            return self.access(ref, names, name)

        printer = BodyPrinter(self.scop.arrays, env, access,
                              fold_scaled(self, name, access) if self.packed else None)
        return c.Statement(printer.assign(stmt.body))

    def access(self, ref, env, stmt: str | None = None) -> str:
        """Row-major element of an array, or a scalar variable; in a packed tile, the
        element of the buffer that serves access ``ref`` of statement ``stmt``."""
        if not ref.indices:
            return c_name(ref.array)
        arr = self.scop.arrays[ref.array]
        idx = [aff_to_c(i, env) for i in ref.indices]
        packed = packed_for(self, ref, stmt)
        if packed is not None:
            return packed.element(idx)
        flat = idx[0]
        for d, i in zip(arr.shape[1:], idx[1:]):
            flat = f"{flat if _simple(flat) else f'({flat})'} * {_lin_c(d, self.names)} + {i}"
        base = self.array_names.get(ref.array) or c_name(ref.array)
        return f"{base}[{flat}]"


def _lin_c(lin, names) -> str:
    from ..types import Lin
    text = Lin({names.get(p, p): k for p, k in lin.coeffs.items()}, lin.const).isl()
    return text if _simple(text) else f"({text})"


def _strip(text: str) -> str:
    """Drop one pair of outer parentheses when they enclose the whole text."""
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for k, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and k < len(text) - 1:
                return text
        return text[1:-1]
    return text


def _simple(text: str) -> bool:
    return text.replace("_", "").isalnum()
