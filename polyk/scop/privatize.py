"""Scalar temporaries that need not serialise their loops.

A scalar written before it is read in every iteration of the loops enclosing all its
accesses (its common loops) carries no value from one iteration to the next: its anti and
output dependences between different iterations of those loops only protect the storage,
and go away when each iteration has its own copy. The scheduler may drop them; the printed
code then keeps the scalar private to the loop (OpenMP ``private``), and the legality check
verifies that the final schedule never interleaves two iterations' uses of it.

    for i:                       for i:            (i parallel: t is private to it)
        t = A[i] * 2                 t = A[i] * 2
        B[i] = t + t                 B[i] = t + t
"""

from __future__ import annotations

import islpy as isl

SCALAR_KINDS = ("local", "scalar_arg")


def scalar_names(scop) -> list[str]:
    return [a.name for a in scop.arrays.values() if a.kind in SCALAR_KINDS]


def common_depth(scop, name: str) -> int:
    """Number of loops enclosing every access to scalar ``name``."""
    loops = [s.info.loops for s in scop.statements
             if any(a.array == name for a in s.accesses)]
    if not loops:
        return 0
    depth = 0
    while all(len(lp) > depth for lp in loops) and len({lp[depth] for lp in loops}) == 1:
        depth += 1
    return depth


def _same_iteration(scop, name: str | None, depth: int, stmts=None) -> isl.UnionMap:
    """Pairs of instances of statements accessing ``name`` (or of ``stmts``) that agree on
    the first ``depth`` iterators (the common loops)."""
    if stmts is None:
        stmts = [s for s in scop.statements if any(a.array == name for a in s.accesses)]
    out = isl.UnionMap.empty(scop.context.get_space())
    for s in stmts:
        for t in stmts:
            a = [f"a{k}" for k in range(len(s.iterators))]
            b = [f"b{k}" for k in range(len(t.iterators))]
            cons = " and ".join(f"a{k} = b{k}" for k in range(depth)) or "0 = 0"
            out = out.union(isl.UnionMap(
                f"{scop.params_decl} {{ {s.name}[{', '.join(a)}] -> "
                f"{t.name}[{', '.join(b)}] : {cons} }}"))
    return out


def reads_have_sources(scop, deps, name: str) -> bool:
    """Every read of the scalar gets its value from a write in the SCoP."""
    reads = isl.UnionSet.empty(scop.context.get_space())
    for s in scop.statements:
        for a in s.reads():
            if a.array == name:
                reads = reads.union(isl.UnionSet.from_set(s.domain))
    if reads.is_empty():
        return True
    return reads.is_subset(deps.of_array(name, "flow").range()) if name in deps.per_array \
        else False


def privatizable(scop, deps) -> dict[str, int]:
    """Scalars whose values never cross an iteration of their common loops, with the
    number of those loops."""
    out = {}
    for name in scop_scalars_written(scop, deps):
        depth = common_depth(scop, name)
        if depth == 0 or not reads_have_sources(scop, deps, name):
            continue
        flow = deps.of_array(name, "flow")
        if flow.is_subset(_same_iteration(scop, name, depth)):
            out[name] = depth
    return out


def scop_scalars_written(scop, deps) -> list[str]:
    return [n for n in scalar_names(scop) if n in deps.per_array]


def drop_private_deps(scop, deps, private: dict):
    """Dependences without the anti/output pairs of private scalars that lie in different
    iterations of their common loops."""
    from .dependences import Dependences
    per = dict(deps.per_array)
    anti, output = deps.anti, deps.output
    for name, depth in private.items():
        keep = _same_iteration(scop, name, depth)
        old = per[name]
        new = dict(old, anti=old["anti"].intersect(keep), output=old["output"].intersect(keep))
        anti = anti.subtract(old["anti"]).union(new["anti"])
        output = output.subtract(old["output"]).union(new["output"])
        per[name] = new
    return Dependences(deps.flow, anti, output, deps.input, per)


def split_for_coincidence(scop, deps) -> tuple[isl.UnionMap, dict]:
    """(dependences that always count, {scalar: (flow, anti and output)}) for the parallel
    test: scalars whose every read has a source in the SCoP may be private to a loop."""
    always = isl.UnionMap.empty(scop.context.get_space())
    scalars = {}
    for name, kinds in deps.per_array.items():
        arr = scop.arrays[name]
        if arr.kind in SCALAR_KINDS and reads_have_sources(scop, deps, name):
            scalars[name] = (kinds["flow"], kinds["anti"].union(kinds["output"]))
        else:
            for m in kinds.values():
                always = always.union(m)
    return always, scalars
