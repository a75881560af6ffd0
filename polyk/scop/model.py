"""The SCoP: parameters and context, arrays, statements with isl domains and accesses, and
the original schedule as an isl schedule tree. ``build_scop`` makes one from a ``Program``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import islpy as isl

from ..errors import NotAffineError, OptionsError, OutOfBoundsError, SourceError, UnsupportedError
from ..types import DType, Lin
from .expr import ELoad, aff_pretty, aff_to_isl
from .program import ArgSpec, LoopNode, Program, StmtInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Array:
    """An array of the SCoP; scalars (temporaries and scalar arguments written) have shape ()."""

    name: str
    dtype: DType
    shape: tuple[Lin, ...]
    kind: str  # "arg" (array argument), "scalar_arg" (scalar argument written), "local"

    def extent_set(self, params_decl: str) -> isl.Set:
        if not self.shape:
            return isl.Set(f"{params_decl} {{ {self.name}[] }}")
        idx = [f"a{k}" for k in range(len(self.shape))]
        cons = " and ".join(f"0 <= {v} < {d.isl()}" for v, d in zip(idx, self.shape))
        return isl.Set(f"{params_decl} {{ {self.name}[{', '.join(idx)}] : {cons} }}")


@dataclass(frozen=True)
class Access:
    array: str
    kind: str            # "read" or "write"
    relation: isl.Map    # { S[i..] -> A[..] }, restricted to the statement's domain
    expr: ELoad

    def __repr__(self) -> str:
        return f"{self.kind} {self.relation}"


@dataclass(frozen=True)
class Statement:
    name: str
    iterators: tuple[str, ...]
    domain: isl.Set
    accesses: tuple[Access, ...]
    info: StmtInfo

    @property
    def body(self):
        return self.info.body

    @property
    def line(self) -> int:
        return self.info.line

    def reads(self) -> list[Access]:
        return [a for a in self.accesses if a.kind == "read"]

    def writes(self) -> list[Access]:
        return [a for a in self.accesses if a.kind == "write"]

    def __repr__(self) -> str:
        return f"{self.name} (line {self.line}: {self.info.code.splitlines()[0]})\n" \
               f"    domain {self.domain}\n" + \
               "".join(f"    {a!r}\n" for a in self.accesses)


@dataclass(frozen=True)
class Scop:
    """A static control part: everything the scheduler and code generator need."""

    name: str
    filename: str
    params: tuple[str, ...]              # symbolic parameters, in signature order
    fixed: dict                          # parameters fixed to constants (sizes=...)
    context: isl.Set                     # what the parameters may be
    args: tuple[ArgSpec, ...]
    arrays: dict                         # name -> Array
    statements: tuple[Statement, ...]
    schedule: isl.Schedule               # the original execution order
    program: Program = field(repr=False)

    @property
    def params_decl(self) -> str:
        return f"[{', '.join(self.params)}] ->"

    def statement(self, name: str) -> Statement:
        for s in self.statements:
            if s.name == name:
                return s
        raise KeyError(name)

    def domain(self) -> isl.UnionSet:
        out = isl.UnionSet.empty(self.context.get_space())
        for s in self.statements:
            out = out.union(isl.UnionSet.from_set(s.domain))
        return out

    def _accesses(self, kind: str) -> isl.UnionMap:
        out = isl.UnionMap.empty(self.context.get_space())
        for s in self.statements:
            for a in s.accesses:
                if a.kind == kind:
                    out = out.union(isl.UnionMap.from_map(a.relation))
        return out

    def reads(self) -> isl.UnionMap:
        return self._accesses("read")

    def writes(self) -> isl.UnionMap:
        return self._accesses("write")

    def schedule_map(self) -> isl.UnionMap:
        return self.schedule.get_map()

    @property
    def written_arrays(self) -> set[str]:
        return {a.array for s in self.statements for a in s.writes()}

    def __repr__(self) -> str:
        lines = [f"Scop {self.name} ({self.filename})",
                 f"  parameters {', '.join(self.params) or '(none)'}; context {self.context}"]
        if self.fixed:
            lines.append(f"  fixed sizes {self.fixed}")
        for a in self.arrays.values():
            shape = f"[{', '.join(map(repr, a.shape))}]" if a.shape else " (scalar)"
            lines.append(f"  array {a.name}: {a.dtype.name}{shape} ({a.kind})")
        for s in self.statements:
            lines.append("  " + repr(s).rstrip().replace("\n", "\n  "))
        lines.append(f"  original schedule {self.schedule_map()}")
        return "\n".join(lines)


def build_context(prog: Program, params: tuple[str, ...], fixed: dict, assume: str | None):
    decl = f"[{', '.join(params)}] ->"
    cons = [f"{p} >= 1" for p in params]
    for p, v in fixed.items():
        cons.append(f"{p} = {int(v)}")
    text = f"{decl} {{ : {' and '.join(cons) or '0 = 0'} }}"
    ctx = isl.Set(text)
    for extra in (prog.assume, assume):
        if extra:
            try:
                ctx = ctx.intersect(isl.Set(f"{decl} {{ : {extra} }}"))
            except isl.Error as e:
                raise OptionsError(f"cannot read the assumption {extra!r} as constraints on "
                                   f"the parameters {list(params)}: {e}") from None
    if ctx.is_empty():
        raise OptionsError(f"the assumptions {[a for a in (prog.assume, assume) if a]} and sizes "
                           f"{fixed} leave no possible parameter values")
    return ctx


def build_scop(prog: Program, *, sizes: dict | None = None, assume: str | None = None) -> Scop:
    """Turn a parsed program into isl objects and check every access against its extent."""
    t0 = time.perf_counter()
    sizes = dict(sizes or {})
    for p in sizes:
        if p not in prog.params:
            raise OptionsError(f"sizes names {p!r}, which is not a parameter of "
                               f"{prog.name} (parameters: {', '.join(prog.params) or 'none'})")
    params = prog.params
    decl = f"[{', '.join(params)}] ->"
    context = build_context(prog, params, sizes, assume)

    arrays = {}
    for a in prog.args:
        if a.is_array:
            arrays[a.name] = Array(a.name, a.dtype, a.shape, "arg")
    for name, t in prog.locals.items():
        kind = "scalar_arg" if prog.arg(name) is not None else "local"
        arrays[name] = Array(name, t, (), kind)

    for chk in prog.checks:
        _check_nonnegative(chk, decl, context)
    statements = []
    for info in prog.statements:
        dom = _domain(info, decl).intersect_params(context)
        if dom.is_empty():
            log.warning("%s line %d: statement %s never runs for the allowed parameters",
                        info.filename, info.line, info.name)
        accesses = []
        refs = [("write", info.body.target)] + [("read", r) for r in info.body.reads]
        for kind, ref in refs:
            if ref.array not in arrays:  # a scalar argument only read: passed by value
                continue
            rel = _access(info, ref, decl).intersect_domain(dom)
            accesses.append(Access(ref.array, kind, rel, ref))
        stmt = Statement(info.name, info.iterators, dom, tuple(accesses), info)
        _check_bounds(stmt, arrays, decl, context)
        statements.append(stmt)

    schedule = _original_schedule(prog.tree, {s.name: s for s in statements}, context)
    _check_scalars_assigned(statements, arrays, schedule)
    scop = Scop(prog.name, prog.filename, params, sizes, context, prog.args, arrays,
                tuple(statements), schedule, prog)
    log.debug("scop %s built in %.1f ms", prog.name, 1e3 * (time.perf_counter() - t0))
    return scop


def _where(info: StmtInfo, msg: str, cls=SourceError):
    return cls(msg, filename=info.filename, line=info.line, col=info.col, code=info.code)


def _check_nonnegative(chk, decl, context):
    cons = " and ".join(chk.constraints + (f"{chk.expr} < 0",))
    bad = isl.Set(f"{decl} {{ [{', '.join(chk.iterators)}] : {cons} }}").intersect_params(
        context)
    if not bad.is_empty():
        raise NotAffineError(f"C's '/' and '%' truncate toward zero, and here the left operand "
                          f"({chk.expr}) can be negative, e.g. {bad.sample_point()}; polyk "
                          "refuses rather than guess: make it non-negative or add an "
                          "assumption", filename=chk.filename, line=chk.line, col=chk.col,
                          code=chk.code)


def _domain(info: StmtInfo, decl: str) -> isl.Set:
    cons = " and ".join(info.constraints) if info.constraints else "0 = 0"
    text = f"{decl} {{ {info.name}[{', '.join(info.iterators)}] : {cons} }}"
    try:
        return isl.Set(text)
    except isl.Error as e:
        raise _where(info, f"internal: isl could not read the domain {text}: {e}") from None


def _access(info: StmtInfo, ref: ELoad, decl: str) -> isl.Map:
    idx = ", ".join(aff_to_isl(i) for i in ref.indices)
    text = f"{decl} {{ {info.name}[{', '.join(info.iterators)}] -> {ref.array}[{idx}] }}"
    return isl.Map(text)


def _check_bounds(stmt: Statement, arrays, decl, context):
    for acc in stmt.accesses:
        arr = arrays[acc.array]
        if not arr.shape:
            continue
        footprint = acc.relation.range()
        outside = footprint.subtract(arr.extent_set(decl).intersect_params(context))
        if outside.is_empty():
            continue
        pt = outside.sample_point()
        params = {}
        space = pt.get_space()
        for k in range(space.dim(isl.dim_type.param)):
            params[space.get_dim_name(isl.dim_type.param, k)] = \
                pt.get_coordinate_val(isl.dim_type.param, k).to_python()
        index = [pt.get_coordinate_val(isl.dim_type.set, k).to_python()
                 for k in range(space.dim(isl.dim_type.set))]
        sub = ", ".join(aff_pretty(i) for i in acc.expr.indices)
        ext = ", ".join(map(repr, arr.shape))
        example = ", ".join(f"{k}={v}" for k, v in params.items())
        raise _where(stmt.info,
                     f"{acc.kind} of {acc.array}[{sub}] can fall outside the array's extent "
                     f"[{ext}]: e.g. index ({', '.join(map(str, index))})"
                     + (f" with {example}" if example else "")
                     + "; tighten the loop bounds or add an assumption (assume=...)",
                     OutOfBoundsError)


def _check_scalars_assigned(statements, arrays, schedule: isl.Schedule):
    """Refuse a read of a scalar temporary that no earlier statement instance has written
    (Python's UnboundLocalError; an uninitialised variable in C), e.g. one assigned only
    under a condition or in a loop that may run zero times."""
    local = {n for n, a in arrays.items() if a.kind == "local"}
    if not local:
        return
    space = schedule.get_domain().get_space()
    reads, writes = isl.UnionMap.empty(space), isl.UnionMap.empty(space)
    for s in statements:
        for a in s.accesses:
            if a.array in local:
                m = isl.UnionMap.from_map(a.relation)
                if a.kind == "read":
                    reads = reads.union(m)
                else:
                    writes = writes.union(m)
    if reads.is_empty():
        return
    info = isl.UnionAccessInfo.from_sink(reads).set_must_source(writes)
    unassigned = info.set_schedule(schedule).compute_flow().get_may_no_source()
    if unassigned.is_empty():
        return
    for s in statements:
        for a in s.reads():
            if a.array not in local:
                continue
            bad = unassigned.intersect(isl.UnionMap.from_map(a.relation))
            if bad.is_empty():
                continue
            pt = bad.domain().sample_point()
            space_ = pt.get_space()
            where = [f"{it}={pt.get_coordinate_val(isl.dim_type.set, k).to_python()}"
                     for k, it in enumerate(s.iterators)]
            where += [f"{space_.get_dim_name(isl.dim_type.param, k)}="
                      f"{pt.get_coordinate_val(isl.dim_type.param, k).to_python()}"
                      for k in range(space_.dim(isl.dim_type.param))]
            raise _where(s.info,
                         f"scalar {a.array!r} may be read before it is assigned"
                         + (f" (e.g. at {', '.join(where)})" if where else "")
                         + "; assign it on every path before this statement",
                         UnsupportedError)


def _original_schedule(tree: list, stmts: dict, context: isl.Set) -> isl.Schedule:
    """The schedule tree of the program as written: sequences of loops and statements."""
    def leaves(nodes):
        for n in nodes:
            if isinstance(n, LoopNode):
                yield from leaves(n.children)
            else:
                yield n

    def build(nodes) -> isl.Schedule | None:
        parts = []
        for n in nodes:
            if isinstance(n, LoopNode):
                inner = build(n.children)
                if inner is None:
                    continue
                pieces = []
                for leaf in leaves(n.children):
                    st = stmts[leaf.name]
                    pos = list(st.iterators).index(n.iterator)
                    it = st.iterators[pos]
                    expr = it if n.sign > 0 else f"-{it}"
                    pieces.append(f"{leaf.name}[{', '.join(st.iterators)}] -> [({expr})]")
                # The pieces name iterators only, so no "[params] ->" prefix (with no
                # parameters, "[] -> [...]" reads as an empty, zero-dimensional schedule).
                mupa = isl.MultiUnionPwAff(f"[{{ {'; '.join(pieces)} }}]")
                mupa = mupa.align_params(context.get_space())
                parts.append(inner.insert_partial_schedule(mupa))
            else:
                dom = isl.UnionSet.from_set(stmts[n.name].domain)
                parts.append(isl.Schedule.from_domain(dom))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out.sequence(p)
        return out

    sched = build(tree)
    if sched is None:
        sched = isl.Schedule.from_domain(isl.UnionSet.empty(context.get_space()))
    return sched
