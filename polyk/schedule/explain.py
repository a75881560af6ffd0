"""``polyk.explain``: what a schedule does, band by band, in words.

For each band: its hyperplanes per statement (like Pluto's transformation matrices),
whether it is permutable, which members are parallel, and which dependences each member
carries; for each sequence: where the nest was distributed, and why (Pluto's cuts).
"""

from __future__ import annotations

import islpy as isl

from .parallel import _member_map, _same, _zero_distance
from .schedule import CUT_MARK, parallel_mark_depth


def _pieces(umap: isl.UnionMap) -> list[isl.Map]:
    out = []
    umap.foreach_map(out.append)
    return out


def _aff_text(aff: isl.Aff, iterators) -> str:
    if aff.dim(isl.dim_type.div):   # floor divisions (tile loops): isl's own text
        text = str(aff)
        inner = text[text.find("-> [") + 4:text.rfind("]")]
        from ..codegen.c_printer import _strip
        return _strip(inner) if inner else text
    terms = []
    for k, it in enumerate(iterators):
        c = aff.get_coefficient_val(isl.dim_type.in_, k).to_python()
        if c:
            terms.append((c, it))
    sp = aff.get_space()
    for k in range(sp.dim(isl.dim_type.param)):
        c = aff.get_coefficient_val(isl.dim_type.param, k).to_python()
        if c:
            terms.append((c, sp.get_dim_name(isl.dim_type.param, k)))
    const = aff.get_constant_val()
    den = aff.get_denominator_val().to_python()
    out = ""
    for c, name in terms:
        mag = name if abs(c) == 1 else f"{abs(c)}{name}"
        out += (" - " if c < 0 else " + ") + mag if out else ("-" if c < 0 else "") + mag
    cst = const.to_python()
    if cst or not out:
        out += (" - " if cst < 0 else " + ") + str(abs(cst)) if out else str(cst)
    return out if den == 1 else f"({out})/{den}"


def _member_texts(node, j, iterators) -> dict:
    upa = node.band_get_partial_schedule().get_at(j)
    texts = {}

    def one(pa):
        name = pa.get_domain_space().get_tuple_name(isl.dim_type.set)
        parts = [_aff_text(aff, iterators[name]) for _, aff in pa.get_pieces()]
        texts[name] = " | ".join(parts)

    upa.foreach_pw_aff(one)
    return texts


def _dep_label(kind, array, m: isl.Map) -> str:
    return (f"{kind} {m.get_tuple_name(isl.dim_type.in_)}->"
            f"{m.get_tuple_name(isl.dim_type.out)} on {array}")


class Explanation:
    def __init__(self, lines):
        self.lines = lines

    def __str__(self):
        return "\n".join(self.lines)

    __repr__ = __str__

    def _repr_html_(self):
        import html
        return "<pre>" + html.escape(str(self)) + "</pre>"


def explain(kernel) -> Explanation:
    """Explain the schedule of a kernel (``polyk.generate``'s result)."""
    scop, deps, schedule = kernel.scop, kernel.dependences, kernel.schedule
    iterators = {s.name: s.iterators for s in scop.statements}
    opts = kernel.options
    head = f"{scop.name}: scheduler {schedule.scheduler}"
    if getattr(opts, "fuse", None):
        head += f", fuse {opts.fuse}"
    lines = [head, "  dependences: " + ", ".join(
        f"{len(deps.by_pair(k))} {k} pair(s)" for k in ("flow", "anti", "output"))]
    labelled = []
    for array, kinds in (deps.per_array or {}).items():
        for kind, umap in kinds.items():
            for m in _pieces(umap):
                labelled.append((_dep_label(kind, array, m), isl.UnionMap.from_map(m)))
    state = {"band": 0}

    def visit(node, depth):
        pad = "  " * depth
        t = node.get_type()
        if t == isl.schedule_node_type.band:
            b = state["band"]
            state["band"] += 1
            stmts = sorted(_names(node.get_domain()))
            perm = "permutable" if node.band_get_permutable() else "not permutable"
            n = node.band_n_member()
            lines.append(f"{pad}band b{b} over {', '.join(stmts)}: {n} member(s), {perm}")
            carried = _carried(node, labelled)
            for j in range(n):
                texts = _member_texts(node, j, iterators)
                hyper = "; ".join(f"{s}: {texts[s]}" for s in stmts if s in texts)
                par = "parallel" if node.band_member_get_coincident(j) else "sequential"
                lines.append(f"{pad}  [{j}] {hyper}    ({par})")
                if carried[j]:
                    lines.append(f"{pad}      carries: {', '.join(carried[j])}")
        elif t == isl.schedule_node_type.sequence:
            groups = [sorted(_names(node.child(k).filter_get_filter()))
                      for k in range(node.n_children())]
            why = ""
            if node.has_parent() and node.parent().get_type() == isl.schedule_node_type.mark:
                name = node.parent().mark_get_id().get_name()
                if name.startswith(CUT_MARK):
                    why = f" (distributed: {name[len(CUT_MARK):]})"
            lines.append(f"{pad}sequence: " + " | ".join("{" + ", ".join(g) + "}"
                                                          for g in groups) + why)
        elif t == isl.schedule_node_type.mark and \
                parallel_mark_depth(node.mark_get_id().get_name()) is not None:
            d = parallel_mark_depth(node.mark_get_id().get_name())
            lines.append(f"{pad}omp parallel for on the loop at depth {d}"
                         if node.child(0).get_type() == isl.schedule_node_type.band
                         and d > node.child(0).get_schedule_depth()
                         else f"{pad}omp parallel for on the next loop")
        for k in range(node.n_children()):
            child = node.child(k)
            if child.get_type() == isl.schedule_node_type.filter:
                child = child.child(0) if child.n_children() else child
            visit(child, depth + (t == isl.schedule_node_type.band))

    visit(schedule.tree.get_root(), 1)
    other = [n for n in schedule.notes if not n.startswith("cut")]
    if other:
        lines.append("  notes: " + "; ".join(other))
    return Explanation(lines)


def _names(uset: isl.UnionSet) -> list[str]:
    out = []
    uset.foreach_set(lambda s: out.append(s.get_tuple_name()))
    return out


def _carried(node, labelled) -> list[list[str]]:
    """For each band member, the dependences it carries (non-zero distance, not already
    separated by an outer dimension or earlier member)."""
    dom = node.get_domain()
    same = _same(node.get_prefix_schedule_union_map())
    out = []
    for j in range(node.band_n_member()):
        member = _member_map(node, j)
        here = []
        for label, d in labelled:
            d = d.intersect_domain(dom).intersect_range(dom).intersect(same)
            if not _zero_distance(d, member):
                here.append(label)
        out.append(here)
        same = same.intersect(_same(member))
    return out
