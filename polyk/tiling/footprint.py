"""Footprints: which elements of each array one tile touches, and a fixed-size box around them.

Shared by CPU packing (packing.py) and GPU shared-memory promotion. API:

    access_footprints(scop, node, key=None) -> dict[str, Footprint]
        ``node``: an isl.ScheduleNode; its prefix schedule (the outer loops, e.g. the tile
        loops above a point band) names one "tile". For each array (not scalars) accessed by
        the statements under ``node``: the elements read and written per tile, as maps
        ``{ [prefix dims] -> A[...] }`` (parameters kept), and their box. ``key(stmt,
        access)`` groups accesses otherwise (packing.py: one group per read-only access
        pattern); the dict is then keyed by its values.

    Footprint(array, read, written, box)
        read / written: isl.Map (empty map when the tile only writes / only reads)
        accessed:       read | written
        box:            Box over ``accessed``, or None when no fixed-size box exists

    box_hull(rel: isl.Map) -> Box | None
        For ``{ [p...] -> A[a0, a1, ...] }``: per array dimension d an affine lower bound
        ``offset[d]`` (an isl.Aff over the domain ``[p...]`` and the parameters, no
        divisions) and a constant size with offset[d] <= a_d < offset[d] + size[d] for every
        pair in ``rel``: the same contract as isl's ``get_range_simple_fixed_box_hull``
        (whose offset and size accessors this islpy does not wrap). Chooses, per
        dimension, the tightest bound among the lower-bound constraints of the simple hull.

    Box(offset, sizes): offset a tuple of isl.Aff, sizes a tuple of int; ``volume``;
        ``offset_c(names)`` prints the offsets as C expressions, ``names`` mapping input
        dimension k to a C name (e.g. the AST iterator ``c{k}``) and parameters by name.

Footprints are over-approximations where a box is used: a box never has fewer elements
than the footprint; a copy-in should still read only ``accessed`` and a copy-out write only
``written`` (never the whole box, which may hold a neighbour tile's results).
"""

from __future__ import annotations

from dataclasses import dataclass

import islpy as isl


@dataclass(frozen=True)
class Box:
    offset: tuple        # isl.Aff per array dimension, over the footprint's domain space
    sizes: tuple         # int per array dimension

    @property
    def volume(self) -> int:
        v = 1
        for s in self.sizes:
            v *= s
        return v

    def offset_c(self, names) -> list[str]:
        """The offsets as C expressions: ``names(k)`` (a callable or a list) names input
        dimension k; parameters print by their isl name."""
        return [aff_to_c(a, names) for a in self.offset]


@dataclass(frozen=True)
class Footprint:
    array: str
    read: isl.Map
    written: isl.Map
    box: Box | None

    @property
    def accessed(self) -> isl.Map:
        return self.read.union(self.written)


def aff_to_c(aff: isl.Aff, names) -> str:
    """C text of a division-free affine expression with integer coefficients."""
    get = names if callable(names) else (lambda k: names[k])
    if aff.dim(isl.dim_type.div) or not aff.get_denominator_val().is_one():
        raise ValueError(f"aff_to_c: {aff} has divisions")
    terms = []
    for kind, label in ((isl.dim_type.in_, get),
                        (isl.dim_type.param,
                         lambda k: aff.get_dim_name(isl.dim_type.param, k))):
        for k in range(aff.dim(kind)):
            v = aff.get_coefficient_val(kind, k).to_python()
            if v:
                terms.append((int(v), label(k)))
    const = int(aff.get_constant_val().to_python())
    text = ""
    for v, name in terms:
        mag = abs(v)
        part = name if mag == 1 else f"{mag} * {name}"
        text += (" - " if v < 0 else " + ") + part if text else ("-" if v < 0 else "") + part
    if const or not text:
        text += (f" - {-const}" if const < 0 else f" + {const}") if text else str(const)
    return f"({text})"


def _lower_bounds(hull: isl.BasicMap, d: int) -> list[isl.Aff]:
    """Division-free affine lower bounds ``a_d >= f(p)`` among the hull's constraints
    (and both sides of an equality), as Affs over the domain space."""
    out = []
    dom_space = hull.get_space().domain()
    n_in = hull.dim(isl.dim_type.in_)
    n_out = hull.dim(isl.dim_type.out)
    for con in hull.get_constraints():
        coef = con.get_coefficient_val(isl.dim_type.out, d).to_python()
        if coef == 0:
            continue
        if any(not con.get_coefficient_val(isl.dim_type.div, k).is_zero()
               for k in range(hull.dim(isl.dim_type.div))):
            continue
        if any(k != d and not con.get_coefficient_val(isl.dim_type.out, k).is_zero()
               for k in range(n_out)):
            continue
        signs = [1, -1] if con.is_equality() else [1]
        for sign in signs:
            c = coef * sign
            if c != 1:
                continue          # only unit coefficients give a division-free bound
            aff = isl.Aff.zero_on_domain(isl.LocalSpace.from_space(dom_space))
            for k in range(n_in):
                v = con.get_coefficient_val(isl.dim_type.in_, k).to_python() * sign
                aff = aff.set_coefficient_val(isl.dim_type.in_, k, isl.Val(str(-v)))
            for k in range(hull.dim(isl.dim_type.param)):
                v = con.get_coefficient_val(isl.dim_type.param, k).to_python() * sign
                aff = aff.set_coefficient_val(isl.dim_type.param, k, isl.Val(str(-v)))
            cst = con.get_constant_val().to_python() * sign
            aff = aff.set_constant_val(isl.Val(str(-cst)))
            out.append(aff)
    return out


def _lexmin_bound(proj: isl.Map) -> list[isl.Aff]:
    """The smallest element of a one-dimensional range, where it is one affine function of
    the domain and the parameters (it may hold integer divisions of the parameters: a
    partial tile's first element, ``NK - NK mod 256``)."""
    pieces = []
    proj.lexmin_pw_multi_aff().get_pw_aff(0).foreach_piece(
        lambda dom, aff: pieces.append(aff))
    return pieces if len(pieces) == 1 else []


def box_hull(rel: isl.Map, divs: bool = False) -> Box | None:
    """The tightest box ``offset(p) <= a < offset(p) + size`` (per dimension, offsets from
    the hull's own constraints) or None when some dimension has no constant extent.
    ``divs``: an offset may also be the dimension's minimum where that holds integer
    divisions (AST expressions print it; ``Box.offset_c`` does not)."""
    if rel.is_empty():
        return None
    rel = rel.coalesce()
    n_out = rel.dim(isl.dim_type.out)
    offsets, sizes = [], []
    for d in range(n_out):
        proj = rel.project_out(isl.dim_type.out, d + 1, n_out - d - 1) \
                  .project_out(isl.dim_type.out, 0, d)
        hull = proj.simple_hull()
        best = None
        cands = _lower_bounds(hull, 0)
        if divs and not cands:
            cands = _lexmin_bound(proj)
        for f in cands:
            fmap = isl.Map.from_aff(f.neg())
            fmap = fmap.set_tuple_id(isl.dim_type.out, proj.get_tuple_id(isl.dim_type.out)) \
                if proj.has_tuple_id(isl.dim_type.out) else fmap
            try:
                diff = proj.sum(fmap).range()
            except isl.Error:
                continue
            # the extent for any parameter values (a box of compile-time size)
            diff = diff.project_out(isl.dim_type.param, 0, diff.dim(isl.dim_type.param))
            if diff.is_empty() or not diff.is_bounded():
                continue
            hi = diff.dim_max(0)
            lo = diff.dim_min(0)
            if not (hi.is_cst() and lo.is_cst()):
                continue
            vals = []
            hi.foreach_piece(lambda s, a: vals.append(a.get_constant_val().to_python()))
            lows = []
            lo.foreach_piece(lambda s, a: lows.append(a.get_constant_val().to_python()))
            if not vals or not lows or min(lows) < 0:
                continue
            size = int(max(vals)) + 1
            if best is None or size < best[1]:
                best = (f, size)
        if best is None:
            return None
        offsets.append(best[0])
        sizes.append(best[1])
    return Box(tuple(offsets), tuple(sizes))


def _prefix_map(node: isl.ScheduleNode) -> isl.UnionMap:
    return node.get_prefix_schedule_union_map().intersect_domain(node.get_domain())


def access_footprints(scop, node: isl.ScheduleNode, key=None) -> dict:
    """Per array accessed under ``node``: read and written elements per value of the prefix
    schedule (one tile), and a fixed box around them (None where none exists). ``key(stmt,
    access)`` may split an array's accesses into groups, each with its own footprint: the
    result is then keyed by what ``key`` returns (default: the array's name)."""
    prefix = _prefix_map(node)
    live = set()
    node.get_domain().foreach_set(lambda s: live.add(s.get_tuple_name()))
    rel = {"read": {}, "write": {}}
    array_of = {}
    for s in scop.statements:
        if s.name not in live:
            continue
        for a in s.accesses:
            if not scop.arrays[a.array].shape:
                continue
            got = prefix.reverse().apply_range(isl.UnionMap.from_map(a.relation))
            if got.is_empty():
                continue
            m = isl.Map.from_union_map(got)
            k = a.array if key is None else key(s, a)
            array_of[k] = a.array
            d = rel[a.kind]
            d[k] = m if k not in d else d[k].union(m)
    out = {}
    for k in sorted(set(rel["read"]) | set(rel["write"]), key=str):
        r = rel["read"].get(k)
        w = rel["write"].get(k)
        space = (r if r is not None else w).get_space()
        r = r if r is not None else isl.Map.empty(space)
        w = w if w is not None else isl.Map.empty(space)
        out[k] = Footprint(array_of[k], r.coalesce(), w.coalesce(), box_hull(r.union(w)))
    return out
