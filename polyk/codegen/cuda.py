"""Print a GPU-mapped schedule as CUDA C: ``__global__`` kernels and an ``extern "C"`` host
launcher, through isl's AST generator and cgen (no string pasting of program structure).

One isl AST covers the whole program. Above a kernel mark it is host code (loops around
launches); below it, kernel code, where the loops of mapped members are replaced:

- a mapped tile loop ``for (c = init; cond; c++)`` becomes ``c = lo + blockIdx`` and a
  guard ``c >= init && cond`` (``lo`` and the grid extent come from the kernel's tile
  values, computed by isl on the host);
- a mapped point loop becomes an unrolled loop over the thread's points of the tile,
  ``c = T * tile + threadIdx + r * threads`` for ``r = 0 .. T/threads - 1``, with the same
  guard: every point of the tile runs exactly once, on one thread.

The launcher takes device pointers (``T *``), returns a CUDA error code (0: launched), and
launches on the legacy default stream without synchronising.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass, field

import cgen as c
import islpy as isl

from ..scop.expr import aff_to_c
from ..tiling.gpu_mapping import find_kernel_nodes, kernel_index
from .c_expr import BodyPrinter, ast_expr, c_name, iterator_prefix
from .c_printer import _lin_c, _simple, _strip, build_ast

log = logging.getLogger(__name__)

# kernels with register tiles: two blocks a multiprocessor (ptxas keeps 128 registers a
# thread for 256 threads); the f32 matrix product on an H100 went from 25.9 to 28.5
# TFLOP/s with it (2026-12-06)
AUTO_MIN_BLOCKS = 2
FULL_UNROLL = 16       # full tiles of sequential point loops up to this size: unrolled fully
MAX_PREFETCH = 32      # elements a thread may hold to prefetch shared-memory tiles
GRID_ERROR = -1        # launcher return code: a grid dimension exceeds CUDA's limits

HELPERS = r"""
#ifndef POLYK_EXPORT
#define POLYK_EXPORT extern "C"
#endif
#define POLYK_HD __host__ __device__ static inline
template <typename A, typename B> POLYK_HD auto polyk_floordiv(A a, B b) -> decltype(a + b)
{ decltype(a + b) q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
template <typename A, typename B> POLYK_HD auto polyk_mod(A a, B b) -> decltype(a + b)
{ decltype(a + b) r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
"""
_MINMAX = ("POLYK_HD {t} polyk_min_{n}({t} a, {t} b) {{ return b < a ? b : a; }}\n"
           "POLYK_HD {t} polyk_max_{n}({t} a, {t} b) {{ return b > a ? b : a; }}\n")
_ABS = "POLYK_HD {t} polyk_abs_{n}({t} a) {{ return a < 0 ? -a : a; }}\n"
# integer min/max also serve index expressions, which are 32- or 64-bit (``polyk_idx``)
_IMINMAX = ("template <typename A, typename B> POLYK_HD auto polyk_min_{n}(A a, B b) -> "
            "decltype(a + b) {{ return b < a ? b : a; }}\n"
            "template <typename A, typename B> POLYK_HD auto polyk_max_{n}(A a, B b) -> "
            "decltype(a + b) {{ return b > a ? b : a; }}\n")

RUNTIME = r"""
#ifndef POLYK_NO_RUNTIME
extern "C" int polyk_cuda_malloc(void **p, size_t n) { return (int)cudaMalloc(p, n ? n : 1); }
extern "C" int polyk_cuda_free(void *p) { return (int)cudaFree(p); }
extern "C" int polyk_cuda_h2d(void *dst, const void *src, size_t n)
{ return (int)cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice); }
extern "C" int polyk_cuda_d2h(void *dst, const void *src, size_t n)
{ return (int)cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost); }
extern "C" int polyk_cuda_sync(void) { return (int)cudaDeviceSynchronize(); }
extern "C" const char *polyk_cuda_error(int e)
{ return e == -1 ? "a grid dimension exceeds the device's limit" : cudaGetErrorString((cudaError_t)e); }
extern "C" int polyk_cuda_attribute(int attr, int *value)
{ int dev; cudaError_t e = cudaGetDevice(&dev); if (e != cudaSuccess) return (int)e;
  return (int)cudaDeviceGetAttribute(value, (cudaDeviceAttr)attr, dev); }
#endif
"""


@dataclass
class LaunchConfig:
    """How one kernel is launched: grid extents as C expressions of the parameters (and of
    the host loops around the launch), block sizes as numbers."""

    kernel: str
    grid: tuple
    block: tuple
    serial: bool
    shared_bytes: int = 0
    registers: tuple = ()
    shared: tuple = ()

    def as_dict(self) -> dict:
        return {"kernel": self.kernel, "grid": self.grid, "block": self.block,
                "serial": self.serial, "shared_bytes": self.shared_bytes,
                "registers": self.registers, "shared": self.shared}


@dataclass
class CudaModule:
    text: str
    name: str                      # the launcher
    params: list
    args: list
    launch_config: list
    ast: isl.AstNode = field(repr=False)
    notes: list = field(default_factory=list)     # what printing changed in the plans


def _helpers() -> str:
    out = HELPERS
    for t, n in (("int64_t", "i64"), ("int32_t", "i32")):
        out += _IMINMAX.format(n=n)
    for t, n in (("double", "f64"), ("float", "f32")):
        out += _MINMAX.format(t=t, n=n)
    for t, n in (("int64_t", "i64"), ("int32_t", "i32")):
        out += _ABS.format(t=t, n=n)
    return out


def _params_pw(pa: isl.PwAff, names: list[str]) -> isl.PwAff:
    """A piecewise affine function of named set dimensions as one of parameters."""
    n = pa.dim(isl.dim_type.in_)
    for k in range(n):
        pa = pa.set_dim_id(isl.dim_type.in_, k, isl.Id(names[k]))
    return pa.move_dims(isl.dim_type.param, pa.dim(isl.dim_type.param), isl.dim_type.in_, 0, n)


def _aff_text(aff: isl.Aff, dim_names: list[str], names: dict) -> str:
    pa = _params_pw(isl.PwAff.from_aff(aff), dim_names)
    build = isl.AstBuild.from_context(isl.Set.universe(pa.get_domain_space()))
    return ast_expr(build.expr_from_pw_aff(pa), names)


_AXES = ("x", "y", "z")


class CudaPrinter:
    def __init__(self, scop, sched, kernels, plans, fname, storage):
        self.scop = scop
        self.sched = sched
        self.kernels = {k.index: k for k in kernels}
        self.plans = plans                    # kernel index -> Promotion (parallel kernels)
        self.fname = fname
        self.storage = storage                # scalar name -> "device" | "local"
        self.names = {p: c_name(p) for p in scop.params}
        self.prefix = iterator_prefix(list(scop.params) + list(scop.arrays)
                                      + [a.name for a in scop.args])
        self.stmts = {s.name: s for s in scop.statements}
        self.iterators: list[str] = []
        self.kernel = None                    # GpuKernel being printed
        self.kernel_defs = []
        self.launches: list[LaunchConfig] = []
        self.nodes = find_kernel_nodes(sched)
        self.counters: dict[int, str] = {}    # mapped member -> its unrolled counter
        self.hoisted: list | None = None      # full-tile conditions moved up (see below)
        self.hoist_depth = 0

    @property
    def ity(self) -> str:
        """The index type: kernels are templates over it (32-bit where the sizes allow)."""
        return "polyk_idx" if self.kernel is not None else "int64_t"

    # ---------------------------------------------------------------- walking the AST
    def node(self, n: isl.AstNode) -> list:
        t = n.get_type()
        if t == isl.ast_node_type.block:
            kids = n.block_get_children()
            out = []
            for i in range(kids.n_ast_node()):
                out += self.node(kids.get_at(i))
            return out
        if t == isl.ast_node_type.for_:
            return self.loop(n)
        if t == isl.ast_node_type.if_:
            cond = _strip(ast_expr(n.if_get_cond(), self.names))
            then = c.Block(self.node(n.if_get_then_node()))
            other = c.Block(self.node(n.if_get_else_node())) if n.if_has_else_node() else None
            return [c.If(cond, then, other)]
        if t == isl.ast_node_type.user:
            if self.kernel is None:
                raise AssertionError("a statement outside every kernel")
            return [self.user(n.user_get_expr())]
        if t == isl.ast_node_type.mark:
            idx = kernel_index(n.mark_get_id().get_name())
            if idx is not None and self.kernel is None:
                return self.launch(self.kernels[idx], n.mark_get_node())
            return self.node(n.mark_get_node())
        raise NotImplementedError(f"isl AST node type {t}")

    def _depth(self, it: str) -> int:
        return int(it[len(self.prefix):])

    def loop(self, n: isl.AstNode) -> list:
        it = ast_expr(n.for_get_iterator(), self.names)
        init = ast_expr(n.for_get_init(), self.names)
        k = self.kernel
        depth = self._depth(it)
        if k is not None and not k.serial:
            if depth in k.tile_depths:
                return self._block_loop(n, it, init, k.tile_depths.index(depth))
            if depth in k.point_depths:
                return self._thread_loop(n, it, init, k.point_depths.index(depth))
            if depth in k.inner_point_depths:
                return self._inner_point_loop(n, it, init, k.inner_point_depths.index(depth))
        return self._plain_loop(n, it, init)

    def _plain_loop(self, n, it, init) -> list:
        k = self.kernel
        depth = self._depth(it)
        self.iterators.append(it)
        try:
            body = self.node(n.for_get_body())
        finally:
            self.iterators.pop()
        decls = []
        if k is not None and not k.serial and depth == k.copy_depth:
            decls, copy = self._copies(n, it, init)
            body = copy + body
        out = list(decls)
        if n.for_is_degenerate():
            return [c.Block(out + [c.Line(f"const {self.ity} {it} = {init};")] + body)]
        cond = _strip(ast_expr(n.for_get_cond(), self.names))
        inc = ast_expr(n.for_get_inc(), self.names)
        step = f"{it}++" if inc == "1" else f"{it} += {inc}"
        if k is not None and self.unroll and not any(
                isinstance(x, c.For) for x in _walk_cgen(body)):
            out.append(c.Pragma(f"unroll {self.unroll}"))
        out.append(c.For(f"{self.ity} {it} = {init}", cond, step, c.Block(body)))
        # the prefetch registers live in a block of their own: isl may print one loop of
        # the schedule as several sibling loops
        return [c.Block(out)] if decls else out

    def _guard(self, n, it, init) -> str:
        if n.for_is_degenerate():
            return f"{it} == {init}"
        cond = ast_expr(n.for_get_cond(), self.names)
        inc = ast_expr(n.for_get_inc(), self.names)
        g = f"{it} >= {init} && {cond}"
        if inc != "1":
            g += f" && ({it} - {init}) % {inc} == 0"
        return g

    def _block_loop(self, n, it, init, d) -> list:
        k = self.kernel
        self.iterators.append(it)
        try:
            body = self.node(n.for_get_body())
        finally:
            self.iterators.pop()
        depth = self._depth(it)
        if depth == k.copy_depth:
            body = self._copies()[1] + body
        if depth == k.register_depth:
            load, store = self._register_code(it)
            body = load + body + store
        return [c.Block([c.Line(f"const {self.ity} {it} = polyk_lo{d} + polyk_b{d};"),
                         c.If(self._guard(n, it, init), c.Block(body))])]

    def _thread_loop(self, n, it, init, d) -> list:
        """The thread's points of a mapped point loop, unrolled. Where the loop's bounds
        hold at both ends of the tile they hold inside it (the bounds are affine in the
        iterator), so a second version without the guard runs full tiles. Inside the full
        version of a sequential point loop (``_inner_point_loop``) that condition is
        hoisted there where it only reads names defined outside that loop."""
        k = self.kernel
        r = f"polyk_r{d}"
        tile_it = f"{self.prefix}{k.tile_depths[d]}"
        start = f"{k.tile[d]} * {tile_it}"
        full = self._full_tile(n, it, start, k.tile[d])
        hoist = full is not None and self._hoistable(full)
        versions = []
        for guarded in ((False,) if hoist else (False, True)):
            self.counters[d] = r
            self.iterators.append(it)
            try:
                body = self.node(n.for_get_body())
            finally:
                self.iterators.pop()
            inner = [c.Line(f"const {self.ity} {it} = {start} + {k.point_offset(d, r)};")]
            inner += [c.If(self._guard(n, it, init), c.Block(body))] if guarded else body
            versions.append([c.Pragma("unroll"),
                             c.For(f"int {r} = 0", f"{r} < {k.per_thread[d]}", f"{r}++",
                                   c.Block(inner))])
        if hoist:
            self.hoisted.append(full)
            return versions[0]
        if full is None:
            return versions[1]
        return [c.If(full, c.Block(versions[0]), c.Block(versions[1]))]

    def _hoistable(self, cond: str) -> bool:
        """Whether a full-tile condition may move up to the sequential point loop being
        printed in its full version: it reads no iterator defined below that loop."""
        if self.hoisted is None:
            return False
        used = {int(m) for m in re.findall(rf"\b{re.escape(self.prefix)}(\d+)\b", cond)}
        return all(u < self.hoist_depth for u in used)

    def _full_tile(self, n, it, start: str, size: int) -> str | None:
        """A condition under which the loop ``n`` runs every point ``start .. start + size
        - 1`` of its tile: its bounds hold at both ends (they are affine in the iterator, so
        they hold in between). None for a loop with a stride."""
        inc = ast_expr(n.for_get_inc(), self.names)
        if inc != "1" and not n.for_is_degenerate():
            return None
        ends = []
        for at in (start, f"{start} + {size - 1}"):
            saved = self.names.get(it)
            self.names[it] = f"({at})"
            try:
                ends.append(self._guard(n, f"({at})", ast_expr(n.for_get_init(), self.names)))
            finally:
                if saved is None:
                    del self.names[it]
                else:
                    self.names[it] = saved
        return f"({ends[0]}) && ({ends[1]})"

    def _inner_point_loop(self, n, it, init, d) -> list:
        """A point loop of a sequential member tiled with the mapped ones: a version with a
        constant trip count (the tile size), unrolled, for full tiles (shared-memory and
        register indices become constants), and the loop as isl prints it for the rest."""
        k = self.kernel
        u = f"polyk_u{d}"
        tile_it = f"{self.prefix}{k.host_depth + k.n_mapped + d}"
        start = f"{k.inner_tile} * {tile_it}"
        rest = self._plain_loop(n, it, init)
        if tile_it not in self.iterators:
            return rest            # isl printed no loop for the tile (see _MissingCopyLevel)
        full = self._full_tile(n, it, start, k.inner_tile)
        if full is None or k.inner_tile == 1:
            return rest
        outer = self.hoisted is None
        if outer:
            # the full tiles of the mapped loops inside are tested once, here: the body
            # of the unrolled loop is then one basic block
            self.hoisted, self.hoist_depth = [], self._depth(it)
        conds = [full]
        self.iterators.append(it)
        try:
            body = self.node(n.for_get_body())
        finally:
            self.iterators.pop()
            if outer:
                conds += self.hoisted
                self.hoisted = None
        inner = [c.Line(f"const {self.ity} {it} = {start} + {u};")] + body
        pragma = "unroll" if k.inner_tile <= FULL_UNROLL else f"unroll {self.unroll or 4}"
        loop = [c.Pragma(pragma), c.For(f"int {u} = 0", f"{u} < {k.inner_tile}", f"{u}++",
                                        c.Block(inner))]
        return [c.If(" && ".join(conds), c.Block(loop), c.Block(rest))]

    # ------------------------------------------------------------------ promotion code
    def _extents(self, arr) -> list[str]:
        return [_lin_c(d, self.names) for d in arr.shape]

    def _flat(self, arr, idx: list[str]) -> str:
        flat = idx[0]
        for d, i in zip(arr.shape[1:], idx[1:]):
            flat = f"{flat if _simple(flat) else f'({flat})'} * {_lin_c(d, self.names)} + {i}"
        return flat

    def _copies(self, loop=None, it=None, init=None) -> tuple[list, list]:
        """(declarations before the copy-level loop, code at the top of its body) that
        fill the kernel's shared-memory buffers for the current tile: every thread copies
        the elements ``e = tid + q * threads`` of each buffer, consecutive threads on
        consecutive elements (coalesced), between two ``__syncthreads()``.

        With ``prefetch`` and a copy-level loop (``loop``, iterator ``it``, first value
        ``init``), the copy is software-pipelined through registers: the elements of the
        next tile are loaded while this tile computes, and only stored to shared memory at
        the top of the next iteration (the first tile is loaded at the first iteration)."""
        plan = self.plans.get(self.kernel.index)
        if plan is None or not plan.shared:
            return [], []
        k = self.kernel
        dims = [f"{self.prefix}{j}" for j in range(k.copy_depth + 1)]
        inc = None
        if loop is not None and self.prefetch and not loop.for_is_degenerate():
            inc = ast_expr(loop.for_get_inc(), self.names)
            inc = int(inc) if inc.lstrip("-").isdigit() else None
        per = [-(-buf.volume // k.n_threads) for buf in plan.shared]
        if inc is None or sum(per) > MAX_PREFETCH:
            body = [c.Statement("__syncthreads()")]
            for buf in plan.shared:
                body.append(c.For(f"{self.ity} polyk_e = polyk_tid", f"polyk_e < {buf.volume}",
                                  f"polyk_e += {k.n_threads}",
                                  c.Block(self._copy_element(buf, dims, None, "copy"))))
            return [], body + [c.Statement("__syncthreads()")]
        decls, first, store, nxt = [], [], [], []
        for buf, n in zip(plan.shared, per):
            arr = self.scop.arrays[buf.array]
            decls.append(c.Line(f"{arr.dtype.ctype} polyk_pf_{buf.array}[{n}];"))
            for which, shift, out in (("load", 0, first), ("store", 0, store),
                                      ("load", inc, nxt)):
                lines = self._copy_element(buf, dims, shift, which)
                if buf.volume % k.n_threads:
                    lines = [c.If(f"polyk_e < {buf.volume}", c.Block(lines))]
                lines.insert(0, c.Line(f"const {self.ity} polyk_e = polyk_tid + "
                                       f"{k.n_threads} * polyk_q;"))
                out += [c.Pragma("unroll"), c.For("int polyk_q = 0", f"polyk_q < {n}",
                                                  "polyk_q++", c.Block(lines))]
        body = [c.If(f"{it} == {init}", c.Block(first)), c.Statement("__syncthreads()"),
                *store, c.Statement("__syncthreads()"), *nxt]
        return decls, body

    def _copy_element(self, buf, dims, shift, which) -> list:
        """Element ``polyk_e`` of a shared buffer: its coordinates in the buffer
        (``polyk_x``) and in the array (``polyk_y``), and the copy: ``copy`` (global to
        shared), ``load`` (global to the prefetch registers, of the tile ``shift`` tiles
        ahead in the copy-level loop) or ``store`` (prefetch registers to shared)."""
        arr = self.scop.arrays[buf.array]
        n = len(buf.sizes)
        sh = f"polyk_sh_{buf.array}" + "".join(f"[polyk_x{d}]" for d in buf.layout)
        lines = []
        for d in range(n):
            inner = math.prod(buf.sizes[d + 1:])
            x = "polyk_e" if inner == 1 else f"polyk_e / {inner}"
            lines.append(c.Line(f"const {self.ity} polyk_x{d} = "
                                f"{x if d == 0 else f'({x}) % {buf.sizes[d]}'};"))
        if which == "store":
            return lines + [c.Statement(f"{sh} = polyk_pf_{buf.array}[polyk_q]")]
        offs = buf.offsets
        if shift:
            offs = [_shift(a, len(dims) - 1, shift) for a in offs]
        for d in range(n):
            lines.append(c.Line(f"const {self.ity} polyk_y{d} = "
                                f"{_aff_text(offs[d], dims, self.names)} + polyk_x{d};"))
        ext = self._extents(arr)
        inb = " && ".join(f"polyk_y{d} >= 0 && polyk_y{d} < {ext[d]}" for d in range(n))
        glob = f"{self._global(buf.array)}[{self._flat(arr, [f'polyk_y{d}' for d in range(n)])}]"
        if which == "copy":
            return lines + [c.If(inb, c.Statement(f"{sh} = {glob}"))]
        return lines + [c.Statement(f"polyk_pf_{buf.array}[polyk_q] = ({inb}) ? {glob} : "
                                    f"({arr.dtype.ctype})0")]

    def _register_code(self, tile_it) -> tuple[list, list]:
        plan = self.plans.get(self.kernel.index)
        if plan is None or not plan.registers:
            return [], []
        k = self.kernel
        loads, stores = [], []
        for rt in plan.registers:
            arr = self.scop.arrays[rt.array]
            dims = "".join(f"[{k.per_thread[j]}]" for j in rt.mapped)
            loads.append(c.Line(f"{arr.dtype.ctype} polyk_reg_{rt.array}{dims};"))
            for which, out in (("load", loads), ("store", stores)):
                if which == "store" and not rt.written:
                    continue
                body = []
                gs = []
                for d, (j, kk) in enumerate(zip(rt.mapped, rt.consts)):
                    t_it = f"{self.prefix}{k.tile_depths[j]}"
                    body.append(c.Line(
                        f"const {self.ity} polyk_y{d} = {k.tile[j]} * {t_it} + "
                        f"{k.point_offset(j, f'polyk_q{d}')} + ({kk});"))
                    gs.append(f"polyk_y{d}")
                ext = self._extents(arr)
                inb = " && ".join(f"polyk_y{d} >= 0 && polyk_y{d} < {ext[d]}"
                                  for d in range(len(gs)))
                reg = f"polyk_reg_{rt.array}" + "".join(f"[polyk_q{d}]"
                                                         for d in range(len(gs)))
                glob = f"{self._global(rt.array)}[{self._flat(arr, gs)}]"
                stmt = f"{reg} = {glob}" if which == "load" else f"{glob} = {reg}"
                loop = c.Block(body + [c.If(inb, c.Statement(stmt))])
                for d in reversed(range(len(gs))):
                    loop = c.For(f"int polyk_q{d} = 0", f"polyk_q{d} < "
                                 f"{k.per_thread[rt.mapped[d]]}", f"polyk_q{d}++", loop)
                    loop = c.Block([c.Pragma("unroll"), loop])
                out.append(loop)
        return loads, stores

    # ---------------------------------------------------------------------- statements
    def _global(self, array: str) -> str:
        return c_name(array)

    def user(self, e: isl.AstExpr):
        name = e.get_op_arg(0).get_id().get_name()
        stmt = self.stmts[name]
        args = [ast_expr(e.get_op_arg(k + 1), self.names) for k in range(e.get_op_n_arg() - 1)]
        env = dict(self.names)
        for it, a in zip(stmt.iterators, args):
            env[it] = a if _simple(a) else f"({a})"
        # subscripts use the kernel's index type; values computed from iterators and
        # parameters keep the 64-bit meaning they have in the C targets
        values = {k: f"((int64_t){v})" for k, v in env.items()}
        self._subscripts = env
        try:
            printer = BodyPrinter(self.scop.arrays, values, self.access)
            return c.Statement(printer.assign(stmt.body))
        finally:
            self._subscripts = None

    def access(self, ref, env) -> str:
        env = getattr(self, "_subscripts", None) or env
        if not ref.indices:
            if self.storage.get(ref.array) == "device":
                return f"polyk_dev_{c_name(ref.array)}"
            return c_name(ref.array)
        arr = self.scop.arrays[ref.array]
        plan = self.plans.get(self.kernel.index) if self.kernel is not None else None
        idx = [aff_to_c(i, env) for i in ref.indices]
        if plan is not None:
            for rt in plan.registers:
                if rt.array == ref.array:
                    return f"polyk_reg_{ref.array}" + "".join(
                        f"[{self.counters[j]}]" for j in rt.mapped)
            for buf in plan.shared:
                if buf.array == ref.array:
                    dims = [f"{self.prefix}{j}" for j in range(self.kernel.copy_depth + 1)]
                    if dims[-1] not in self.iterators:
                        raise _MissingCopyLevel(self.kernel.index)
                    offs = [_aff_text(a, dims, self.names) for a in buf.offsets]
                    return f"polyk_sh_{ref.array}" + "".join(
                        f"[{idx[d]} - ({offs[d]})]" for d in buf.layout)
        return f"{self._global(ref.array)}[{self._flat(arr, idx)}]"

    # ------------------------------------------------------------------------- kernels
    def _kernel_params(self, k) -> tuple[list, list]:
        """(declarations, host-side argument texts) of a kernel's parameters."""
        scop = self.scop
        decls, args = [], []
        for it in self.iterators:
            decls.append(c.Value("polyk_idx", it))
            args.append(it)
        for p in scop.params:
            if p not in scop.fixed:
                decls.append(c.Value("polyk_idx", self.names[p]))
                args.append(self.names[p])
        written = scop.written_arrays
        for a in scop.args:
            name = c_name(a.name)
            if a.is_array:
                ptr = c.Pointer(c.Value(a.dtype.ctype, f"__restrict__ {name}"))
                decls.append(ptr if a.name in written else c.Const(ptr))
                args.append(name)
            elif self.storage.get(a.name) != "device":
                decls.append(c.Value(a.dtype.ctype, name))
                args.append(name)
        if not k.serial:
            for d in range(k.n_mapped):
                decls.append(c.Value("polyk_idx", f"polyk_lo{d}"))
                args.append(f"polyk_lo{d}")
        return decls, args

    def launch(self, k, inner: isl.AstNode) -> list:
        kname = f"{self.fname}_k{k.index}"
        decls, args = self._kernel_params(k)
        self.kernel = k
        self.counters = {}
        try:
            body = self.node(inner)
        finally:
            self.kernel = None
        pre = [c.Line(f"const polyk_idx {self.names[p]} = {int(v)};")
               for p, v in self.scop.fixed.items()]
        for name, where in self.storage.items():
            if where != "device" and k.index in where[1]:
                arr = self.scop.arrays[name]
                pre.append(c.Line(f"{arr.dtype.ctype} {c_name(name)};"))
        plan = self.plans.get(k.index)
        shared_bytes = 0
        if not k.serial:
            m = k.n_mapped
            for d in range(m):
                axis = _AXES[m - 1 - d]
                pre.append(c.Line(f"const {self.ity} polyk_b{d} = blockIdx.{axis};"))
                pre.append(c.Line(f"const {self.ity} polyk_t{d} = threadIdx.{axis};"))
            tid = "threadIdx.x"
            if m > 1:
                tid += " + blockDim.x * threadIdx.y"
            if m > 2:
                tid += " + blockDim.x * blockDim.y * threadIdx.z"
            pre.append(c.Line(f"const {self.ity} polyk_tid = {tid};"))
            for buf in (plan.shared if plan else []):
                arr = self.scop.arrays[buf.array]
                dims = "".join(f"[{s}]" for s in buf.shape)
                pre.append(c.Line(f"__shared__ {arr.dtype.ctype} polyk_sh_{buf.array}{dims};"))
                shared_bytes += math.prod(buf.shape) * arr.dtype.np.itemsize
        # min_blocks (given, or AUTO_MIN_BLOCKS for register-tiled kernels); otherwise a
        # bound only where the block could not launch without it (more than 255 registers
        # a thread do not fit 256+ threads)
        bounds = ""
        blocks = self.min_blocks
        if blocks is None and plan is not None and plan.registers and k.n_threads <= 256:
            blocks = AUTO_MIN_BLOCKS
        if not k.serial and blocks:
            bounds = f"__launch_bounds__({k.n_threads}, {blocks}) "
        elif not k.serial and k.n_threads > 256:
            bounds = f"__launch_bounds__({k.n_threads}) "
        fn = c.FunctionBody(
            c.FunctionDeclaration(c.Value(f"template <typename polyk_idx> __global__ void "
                                          f"{bounds}", kname), decls),
            c.Block(pre + body))
        self.kernel_defs.append(fn)
        return self._launch_code(k, kname, args, shared_bytes, plan)

    def _launch_code(self, k, kname, args, shared_bytes, plan) -> list:
        check = [c.Line("polyk_err = cudaPeekAtLastError();"),
                 c.If("polyk_err != cudaSuccess", c.Statement("return (int)polyk_err"))]
        if k.serial:
            self.launches.append(LaunchConfig(kname, ("1",), (1,), True))
            return _both(kname, "1, 1", args) + check
        m = k.n_mapped
        lo, ext = self._grid(k)
        lines = []
        for d in range(m):
            lines.append(c.Line(f"const int64_t polyk_lo{d} = {lo[d]};"))
            lines.append(c.Line(f"const int64_t polyk_n{d} = ({ext[d]}) - polyk_lo{d} + 1;"))
        nonempty = " && ".join(f"polyk_n{d} > 0" for d in range(m))
        grid = [f"polyk_n{d}" for d in reversed(range(m))]
        block = [k.threads[d] for d in reversed(range(m))]
        limits = ["polyk_n{} > 2147483647".format(m - 1)] + [
            f"polyk_n{d} > 65535" for d in range(m - 1)]
        launch = [c.If(" || ".join(limits), c.Statement(f"return {GRID_ERROR}")),
                  c.Line(f"dim3 polyk_grid({', '.join(grid)});"),
                  c.Line(f"dim3 polyk_block({', '.join(map(str, block))});"),
                  *_both(kname, "polyk_grid, polyk_block", args)]
        lines.append(c.If(nonempty, c.Block(launch + check)))
        self.launches.append(LaunchConfig(
            kname, tuple(f"({ext[d]}) - ({lo[d]}) + 1" for d in reversed(range(m))),
            tuple(block), False, shared_bytes,
            tuple(r.array for r in plan.registers) if plan else (),
            tuple(b.array for b in plan.shared) if plan else ()))
        return [c.Block(lines)]

    def _grid(self, k) -> tuple[list, list]:
        """Lowest tile index and highest of each mapped member, as C expressions of the
        parameters and the host loops around the launch."""
        node = self.nodes[k.index]
        dom = node.get_domain()
        tile = node.child(0)
        prefix = tile.get_prefix_schedule_union_map().intersect_domain(dom)
        mupa = tile.band_get_partial_schedule()
        from ..schedule.schedule import multi_union_pw_aff
        mapped = isl.UnionMap.from_multi_union_pw_aff(
            multi_union_pw_aff([mupa.get_at(d) for d in range(k.n_mapped)])).intersect_domain(dom)
        values = isl.Set.from_union_set(prefix.flat_range_product(mapped).range())
        h = k.host_depth
        host = [f"{self.prefix}{j}" for j in range(h)]
        for j, name in enumerate(host):
            values = values.set_dim_id(isl.dim_type.set, j, isl.Id(name))
        values = values.move_dims(isl.dim_type.param, values.dim(isl.dim_type.param),
                                  isl.dim_type.set, 0, h)
        ctx = self.scop.context
        lo, hi = [], []
        for d in range(k.n_mapped):
            for fn, out in ((values.dim_min, lo), (values.dim_max, hi)):
                pa = fn(d).coalesce()
                build = isl.AstBuild.from_context(isl.Set.universe(pa.get_domain_space()))
                pa = pa.gist_params(ctx.align_params(pa.get_domain_space()))
                out.append(ast_expr(build.expr_from_pw_aff(pa), self.names))
        return lo, hi


def _both(kname, config, args) -> list:
    """Launch the 32-bit index version where the sizes allow it, else the 64-bit one."""
    a = ", ".join(args)
    return [c.If("polyk_i32", c.Statement(f"{kname}<int32_t><<<{config}>>>({a})"),
                 c.Statement(f"{kname}<int64_t><<<{config}>>>({a})"))]


class _MissingCopyLevel(Exception):
    """A statement reads a shared buffer where isl printed no loop for the copy level (it
    drops a tile loop whose value it knows, e.g. the one k tile before a gap in k): the
    copy has nowhere to go, so that kernel is printed again without shared memory."""

    def __init__(self, kernel: int):
        super().__init__(kernel)
        self.kernel = kernel


def _shift(aff: isl.Aff, pos: int, by: int) -> isl.Aff:
    """``aff`` with its input dimension ``pos`` advanced by ``by``: f(.., c + by, ..)."""
    space = aff.get_domain_space()
    var = isl.Aff.var_on_domain(isl.LocalSpace.from_space(space), isl.dim_type.set, pos)
    ma = isl.MultiAff.identity_on_domain_space(space).set_at(
        pos, var.add_constant_val(isl.Val(by)))
    return aff.pullback_multi_aff(ma)


def _walk_cgen(nodes):
    for n in nodes:
        yield n
        for attr in ("body", "contents", "then_", "else_"):
            sub = getattr(n, attr, None)
            if sub is None:
                continue
            if isinstance(sub, list):
                yield from _walk_cgen(sub)
            else:
                yield from _walk_cgen([sub])


def scalar_storage(scop, sched, kernels) -> dict:
    """Where each scalar temporary lives: a local variable of each kernel that touches it
    (``("local", (k, ...))``; in a parallel kernel, one per thread) when no value flows into
    or out of any of those kernels, else device memory. A scalar reused by several kernels
    without a value passing between them (ludcmp's ``w``) is local to each: a device global
    written by every thread of a parallel kernel would be a race."""
    from ..schedule.legality import _accesses, _names, _scalar_flow
    nodes = find_kernel_nodes(sched)
    doms = {k.index: nodes[k.index].get_domain() for k in kernels}
    _, scalars = _names(scop)
    out = {}
    for name in scalars:
        touched = _accesses(scop, "read", {name}).union(
            _accesses(scop, "write", {name})).domain()
        users = [i for i, d in doms.items() if not d.intersect(touched).is_empty()]
        arr = scop.arrays[name]
        flow, no_source = _scalar_flow(scop, name) if users else (None, None)
        if arr.kind == "scalar_arg" or not users or \
                not no_source.intersect(touched).is_empty():
            out[name] = "device"
            continue
        crossing = False
        for u in users:
            into = flow.intersect_range(doms[u]).subtract(flow.intersect_domain(doms[u]))
            out_of = flow.intersect_domain(doms[u]).subtract(flow.intersect_range(doms[u]))
            crossing = crossing or not into.is_empty() or not out_of.is_empty()
        out[name] = "device" if crossing else ("local", tuple(users))
    return out


I32_PARAM = 1 << 24      # parameters up to this magnitude and
I32_ELEMS = 1 << 30      # arrays up to this many elements: kernels index in 32 bits


def _i32_test(scop, names) -> str:
    """A host-side C condition under which every index expression of the kernels fits
    32 bits: parameters within 2^24 (affine expressions with small coefficients of them, and
    the tile arithmetic, stay far from 2^31) and every array within 2^30 elements (its
    flattened subscripts do)."""
    conds = [f"({names[p]} >= -{I32_PARAM} && {names[p]} <= {I32_PARAM})"
             for p in scop.params]
    for a in scop.arrays.values():
        if a.shape:
            size = " * ".join(f"(int64_t){_lin_c(d, names)}" for d in a.shape)
            conds.append(f"({size} <= {I32_ELEMS})")
    return " && ".join(conds) or "true"


def print_cuda(scop, schedule, kernels, plans, *, unroll=None, prefetch=True,
               min_blocks=None) -> CudaModule:
    fname = f"polyk_{c_name(scop.name)}"
    tree = schedule.tree if hasattr(schedule, "tree") else schedule
    storage = scalar_storage(scop, tree, kernels)
    node = build_ast(scop, tree)
    plans = dict(plans)
    notes = []
    while True:
        printer = CudaPrinter(scop, tree, kernels, plans, fname, storage)
        printer.unroll = unroll
        printer.prefetch = prefetch
        printer.min_blocks = min_blocks
        try:
            body = printer.node(node)
            break
        except _MissingCopyLevel as e:
            plan = plans[e.kernel]
            log.info("kernel %d: no loop at the copy level in isl's AST; shared memory off",
                     e.kernel)
            plans[e.kernel] = dataclasses.replace(plan, shared=[])
            notes.append(f"kernel {e.kernel}: shared memory off (isl printed no loop "
                         "where its copies go)")
    names = printer.names
    free_params = [p for p in scop.params if p not in scop.fixed]
    decls = [c.Line(f"const int64_t {names[p]} = {int(v)};") for p, v in scop.fixed.items()]
    decls.append(c.Line("cudaError_t polyk_err;"))
    decls.append(c.Line("#ifdef POLYK_INDEX64\n  const bool polyk_i32 = false;  /* forced */\n"
                        f"#else\n  const bool polyk_i32 = {_i32_test(scop, names)};\n#endif"))
    fn_args = [c.Value("int64_t", names[p]) for p in free_params]
    written = scop.written_arrays
    globals_ = []
    for name, where in storage.items():
        if where == "device":
            arr = scop.arrays[name]
            globals_.append(c.Line(f"__device__ {arr.dtype.ctype} polyk_dev_{c_name(name)};"))
    for a in scop.args:
        if a.is_array:
            ptr = c.Pointer(c.Value(a.dtype.ctype, c_name(a.name)))
            fn_args.append(ptr if a.name in written else c.Const(ptr))
        else:
            fn_args.append(c.Value(a.dtype.ctype, c_name(a.name)))
            if storage.get(a.name) == "device":
                decls.append(c.Line(f"polyk_err = cudaMemcpyToSymbol(polyk_dev_{c_name(a.name)}"
                                    f", &{c_name(a.name)}, sizeof({c_name(a.name)}));"))
                decls.append(c.If("polyk_err != cudaSuccess",
                                  c.Statement("return (int)polyk_err")))
    fn = c.FunctionBody(c.FunctionDeclaration(c.Value("POLYK_EXPORT int", fname), fn_args),
                        c.Block(decls + body + [c.Statement("return 0")]))
    header = (f"polyk CUDA kernel {scop.name} ({scop.filename})\n"
              f"  int {fname}(parameters, device pointers, scalars): launches "
              f"{len(printer.launches)} kernel(s) on the legacy default stream and returns "
              "a CUDA error code (0: launched); it does not synchronise.\n"
              f"  parameters must satisfy {scop.context}")
    module = c.Module([c.Comment(header), c.Include("stdint.h"), c.Include("math.h"),
                       c.Include("cuda_runtime.h"), c.Line(_helpers()), *globals_,
                       *printer.kernel_defs, fn, c.Line(RUNTIME)])
    return CudaModule(str(module) + "\n", fname, free_params, list(scop.args),
                      printer.launches, node, notes)
