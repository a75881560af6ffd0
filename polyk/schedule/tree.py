"""From Pluto's rows to an isl schedule tree: scalar rows become sequence nodes (one filter
per value, in order), runs of loop rows of one band become band nodes, marked permutable (parallel
members are marked afterwards, from the dependences: parallel.py)."""

from __future__ import annotations

import islpy as isl

from .pluto import affine_text
from .schedule import CUT_MARK


def rows_to_tree(scop, rows) -> isl.Schedule:
    stmts = {s.name: s for s in scop.statements}
    decl = scop.params_decl

    def domain(group) -> isl.UnionSet:
        out = isl.UnionSet.empty(scop.context.get_space())
        for g in group:
            out = out.union(isl.UnionSet.from_set(stmts[g].domain))
        return out

    def constant_on(row, group) -> bool:
        return all(not any(row.coeffs[g]) for g in group)

    def build(group: list[str], r: int) -> isl.Schedule:
        if r == len(rows):
            return isl.Schedule.from_domain(domain(group))
        row = rows[r]
        if row.kind == "scalar" or constant_on(row, group):
            # a cut, or a hyperplane that is only a constant for these statements:
            # at most an order between them
            values = sorted({row.consts[g] for g in group})
            if len(values) == 1:
                return build(group, r + 1)
            parts = [build([g for g in group if row.consts[g] == v], r + 1) for v in values]
            out = parts[0]
            for p in parts[1:]:
                out = out.sequence(p)
            reason = row.reason or "constant offsets of a hyperplane"
            return out.get_root().child(0).insert_mark(
                isl.Id(f"{CUT_MARK}{reason}")).get_schedule()
        end, band = r, []
        while end < len(rows):
            nxt = rows[end]
            if nxt.kind == "loop" and nxt.band == row.band and not constant_on(nxt, group):
                band.append(end)
            elif not (nxt.kind == "scalar" and getattr(nxt, "in_band", False)
                      and len({nxt.consts[g] for g in group}) == 1):
                break           # a cut inside the band that separates none of these
            end += 1
        inner = build(group, end)
        members = []
        for k in band:
            pieces = []
            for g in group:
                its = stmts[g].iterators
                expr = affine_text(rows[k].coeffs[g], rows[k].consts[g], its, "*")
                pieces.append(f"{g}[{', '.join(its)}] -> [({expr})]")
            members.append("{ " + "; ".join(pieces) + " }")
        # isl reads "[] -> [...]" as an empty tuple (found by polyk.fuzz: every band of a
        # program without parameters lost its members): no declaration then
        head = f"{decl} " if scop.params else ""
        mupa = isl.MultiUnionPwAff(f"{head}[{', '.join(members)}]")
        sched = inner.insert_partial_schedule(mupa)
        node = sched.get_root().child(0)
        return node.band_set_permutable(1).get_schedule()

    return build([s.name for s in scop.statements], 0)
