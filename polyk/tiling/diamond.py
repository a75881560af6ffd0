"""Diamond tiling with concurrent start (Bandishti, Pananilath, Bondhugula, SC 2012).

Pluto's band for a time-iterated stencil, e.g. jacobi-1d's ``(t, 2t + i)``, tiles into
parallelograms that only start one after another: the first wavefront holds one tile. A
face of the iteration space allows *concurrent start* when every dependence of the band
has a positive distance along its normal ``f`` (the time loop: ``f = t``); the tiles along
that face can then start together when ``f`` lies strictly inside the cone of the tiling
hyperplanes. So one hyperplane of the band (the one parallel to ``f``) is replaced for the
tile loops by ``c = k f - h_q - sum mu_i h_i`` (``k >= 1``, ``mu_i >= 0``; one extra ILP:
the "cone complement"), which is legal for every dependence of the band:

    tiles of (t, 2t + i)                      tiles of (2t - i, 2t + i)  (diamonds)
    first wavefront: 1 tile                   first wavefront: ~N / size tiles

Inside a tile the points run in the loop nest's original order, which is legal there
(every dependence between two tiles goes forward along every tile hyperplane; every one
inside a tile is respected by the original order) and gives each statement its own
stride-1 innermost loop without guards. ``c`` and ``h_q`` lead
the tile band, so the wavefront that follows (their sum, ``parallel.wavefront``) is along
``f`` and every tile of the first wavefront runs in parallel. Two-dimensional stencils get
concurrent start along one space dimension (partial concurrent start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import islpy as isl
import sympy

from ..errors import ScheduleError
from ..schedule.farkas import dual_rows, substitute
from ..schedule.ilp import ILP
from ..schedule.parallel import band_coincidence
from ..schedule.pluto import affine_text
from .intratile import band_rows_of
from .rectangular import band_paths, cache_sizes, node_at, tile_bands

log = logging.getLogger(__name__)

SHIFT_BOUND = 64
# Order of the points inside a diamond tile: "original" (the loop nest as written: any
# order is legal inside one tile, and this one keeps every statement's innermost loop
# stride-1 and free of the other statements' guards; 3-4x faster than "band" for
# jacobi-2d here) or "band" (the band's own hyperplanes, as Pluto prints them).
INTRA = "original"


@dataclass(frozen=True)
class DiamondPlan:
    """How to diamond-tile one band: member ``replaced`` gives way to ``hyperplane``
    (statement -> (coefficients, constant)) for the tile loops; the tile band's members are
    ``order`` (``-1`` standing for the new hyperplane)."""

    band: int
    face: int                      # iterator position of the concurrent-start face
    replaced: int
    partner: int
    hyperplane: dict
    order: tuple


# ----------------------------------------------------------------------- dependences
def _band_dependences(node: isl.ScheduleNode, deps: isl.UnionMap, context: isl.Set
                       ) -> list[isl.BasicMap]:
    """Pieces of the dependences between instances of the band with equal outer
    schedule (the ones the band must respect)."""
    dom = node.get_domain()
    prefix = node.get_prefix_schedule_union_map()
    same = prefix.apply_range(prefix.reverse())
    d = deps.intersect_domain(dom).intersect_range(dom).intersect(same)
    d = d.intersect_params(context)
    out = []
    maps = []
    d.foreach_map(maps.append)
    for m in maps:
        m.foreach_basic_map(lambda bm: out.append(bm) if not bm.is_empty() else None)
    return out


def _tuple_dims(bm: isl.BasicMap) -> tuple[str, str, int, int]:
    return (bm.get_tuple_name(isl.dim_type.in_), bm.get_tuple_name(isl.dim_type.out),
            bm.dim(isl.dim_type.in_), bm.dim(isl.dim_type.out))


def _images(bm, params, src_coef, dst_coef, const, param_coef=None):
    """The coordinates of the dual cone of ``bm`` (Farkas) as linear forms in ILP variables:
    the constant, each parameter's, each source and each target iterator's coefficient of
    the affine form that must be non-negative on the dependence."""
    _, _, ns, nt = _tuple_dims(bm)
    out = [const]
    out += [param_coef(p) if param_coef else {} for p in params]
    out += [src_coef(m) for m in range(ns)]
    out += [dst_coef(m) for m in range(nt)]
    return out


def _shift_pair(src, dst, prefix, sign=1, extra=None):
    cst = {f"{prefix}_{dst}": sign}
    cst[f"{prefix}_{src}"] = cst.get(f"{prefix}_{src}", 0) - sign
    if extra:
        for k, v in extra.items():
            cst[k] = cst.get(k, 0) + v
    return cst


# ----------------------------------------------------------------------- the face
def _rectangular_faces(stmts, scop) -> list[int]:
    """Iterator positions k whose lower bound in every statement's domain involves only
    parameters and constants (``t >= 0``): the face ``k = lower bound`` is a whole
    cross-section of the iteration space, where tiles can start together."""
    dims = [len(scop.statement(s).iterators) for s in stmts]
    out = []
    for k in range(min(dims)):
        ok = True
        for s in stmts:
            dom = scop.statement(s).domain
            n = dom.dim(isl.dim_type.set)
            found = False
            for bset in dom.get_basic_sets():
                for c in bset.get_constraints():
                    if c.is_equality():
                        continue
                    if c.get_coefficient_val(isl.dim_type.set, k).to_python() <= 0:
                        continue
                    if all(c.get_coefficient_val(isl.dim_type.set, m).is_zero()
                           for m in range(n) if m != k) and not bset.dim(isl.dim_type.div):
                        found = True
            if not found:
                ok = False
                break
        if ok:
            out.append(k)
    return out


def _face_carries_all(face: int, pieces, stmts, bound: int) -> bool:
    """Whether ``a * it_face + shift_S`` (one ``a >= 1``, a shift per statement) has a
    distance of at least 1 along every dependence: no dependence stays inside the face."""
    ilp = ILP()
    ilp.var("a", 1, bound)
    for s in stmts:
        ilp.var(f"f0_{s}", 0, SHIFT_BOUND)
    for bm in pieces:
        src, dst, _, _ = _tuple_dims(bm)
        params, rows = dual_rows(bm)
        img = _images(bm, params,
                      lambda m: {"a": -1} if m == face else {},
                      lambda m: {"a": 1} if m == face else {},
                      _shift_pair(src, dst, "f0", extra={1: -1}))
        for is_eq, row in substitute(rows, img):
            (ilp.eq if is_eq else ilp.ge)(row)
    return ilp.lexmin() is not None


# ----------------------------------------------------------------------- cone complement
def _parallel_to_face(rows: dict, j: int, face: int) -> bool:
    """Member j is a positive multiple of the face's normal for every statement."""
    return all(r[j][face] > 0 and not any(x for m, x in enumerate(r[j]) if m != face)
               for r in rows.values())


def _outermost_space(rows: dict, j: int, face: int) -> int:
    """Minus the depth, counted from the innermost loop, of the outermost iterator other
    than the face's that member j involves in any statement: the diamond goes along it, so the innermost loop stays a long, unskewed
    free member (fdtd-2d: diamonds in (t, i), not (t, j))."""
    return -max((len(r[j]) - 1 - m for r in rows.values() for m, x in enumerate(r[j])
                 if x and m != face), default=-1)


def _cone_complement(pieces, rows, face, p, q, bound):
    """The ILP for c_S = k e_face - h_q,S - sum_{i != p, q} mu_i h_i,S (plus a shift per
    statement), legal for every dependence piece, with the smallest dependence distance
    bound (u, w), then the smallest k and mu. Returns {stmt: (coeffs, const)} or None."""
    n = len(next(iter(rows.values())))
    others = [i for i in range(n) if i not in (p, q)]
    duals = [dual_rows(bm) for bm in pieces]
    ilp = ILP()
    for prm in dict.fromkeys(p for params, _ in duals for p in params):
        ilp.var(f"u_{prm}", 0, None)
    ilp.var("w", 0, None)
    ilp.var("k", 1, 8 * bound)
    for i in others:
        ilp.var(f"mu_{i}", 0, bound)
    for s in rows:
        ilp.var(f"c0_{s}", 0, SHIFT_BOUND)

    def coef(s, m, sign):
        """sign * c_S[m] as a linear form in k and mu."""
        form = {}
        if m == face:
            form["k"] = sign
        const = -rows[s][q][m]
        for i in others:
            if rows[s][i][m]:
                form[f"mu_{i}"] = -sign * rows[s][i][m]
        if const:
            form[1] = sign * const
        return form

    for bm, (params, drows) in zip(pieces, duals):
        src, dst, _, _ = _tuple_dims(bm)
        legal = _images(bm, params, lambda m, s=src: coef(s, m, -1),
                        lambda m, t=dst: coef(t, m, 1), _shift_pair(src, dst, "c0"))
        bounding = _images(bm, params, lambda m, s=src: coef(s, m, 1),
                           lambda m, t=dst: coef(t, m, -1),
                           _shift_pair(src, dst, "c0", sign=-1, extra={"w": 1}),
                           lambda prm: {f"u_{prm}": 1})
        for is_eq, row in substitute(drows, legal) + substitute(drows, bounding):
            (ilp.eq if is_eq else ilp.ge)(row)
    sol = ilp.lexmin()
    if sol is None:
        return None
    out = {}
    for s, r in rows.items():
        coeffs = []
        for m in range(len(r[0])):
            v = (sol["k"] if m == face else 0) - r[q][m]
            v -= sum(sol[f"mu_{i}"] * r[i][m] for i in others)
            coeffs.append(v)
        out[s] = (tuple(coeffs), sol[f"c0_{s}"])
    return out


def plan_band(node: isl.ScheduleNode, band: int, scop, deps: isl.UnionMap,
              coef_bound: int = 4) -> DiamondPlan | str:
    """A DiamondPlan for the band at ``node``, or the reason there is none."""
    n = node.band_n_member()
    if node.get_schedule_depth() != 0:
        return "it is not an outermost band"
    if n < 2 or not node.band_get_permutable():
        return "it is not a permutable band of two or more loops"
    if _tiles_have_parallel_loop(node, deps):
        return "its tiles have a parallel loop already (no wavefront needed)"
    rows = band_rows_of(node, scop)
    sets = []
    node.get_domain().foreach_set(sets.append)
    stmts = sorted(s.get_tuple_name() for s in sets)
    if set(rows) != set(stmts):
        return "its hyperplanes are not plain affine functions of the iterators"
    pieces = _band_dependences(node, deps, scop.context)
    if not pieces:
        return "no dependence crosses its iterations"
    faces = [k for k in _rectangular_faces(stmts, scop)
             if _face_carries_all(k, pieces, stmts, coef_bound)]
    if not faces:
        return ("no face of the iteration space carries every dependence (some dependence "
                "stays within one iteration of each outer loop), so tiles cannot start "
                "concurrently")
    for face in faces:
        time_like = [j for j in range(n) if _parallel_to_face(rows, j, face)]
        for p in time_like + [j for j in range(n) if j not in time_like]:
            for q in sorted(range(n), key=lambda j: (_outermost_space(rows, j, face), j)):
                if q == p or _parallel_to_face(rows, q, face):
                    continue
                hyper = _cone_complement(pieces, rows, face, p, q, coef_bound)
                if hyper is None or not _keeps_rank(rows, p, hyper):
                    continue
                order = (-1, q) + tuple(j for j in range(n) if j not in (p, q))
                return DiamondPlan(band, face, p, q, hyper, order)
    return ("no legal hyperplane puts the concurrent-start face strictly inside the cone of "
            "the tiling hyperplanes")


def _tiles_have_parallel_loop(node: isl.ScheduleNode, deps: isl.UnionMap) -> bool:
    """Whether rectangular tiles of the band have a parallel tile loop (then there is no
    wavefront, and nothing for concurrent start to improve)."""
    if node.band_member_get_coincident(0):
        return True
    mv = isl.MultiVal.zero(node.band_get_space())
    for k in range(node.band_n_member()):
        mv = mv.set_val(k, isl.Val(2))
    return any(band_coincidence(node.band_tile(mv), deps, {}))


def _keeps_rank(rows, p, hyper) -> bool:
    for s, r in rows.items():
        new = [hyper[s][0]] + [r[j] for j in range(len(r)) if j != p]
        if sympy.Matrix(new).rank() != sympy.Matrix(r).rank():
            return False
    return True


# ----------------------------------------------------------------------- tiling
def hyperplane_upa(scop, hyper: dict) -> isl.UnionPwAff:
    pieces = []
    for s, (coeffs, const) in sorted(hyper.items()):
        its = scop.statement(s).iterators
        pieces.append(f"{s}[{', '.join(its)}] -> [({affine_text(coeffs, const, its, '*')})]")
    return isl.UnionPwAff(f"{scop.params_decl} {{ {'; '.join(pieces)} }}")


def _scaled_floor(mupa: isl.MultiUnionPwAff, sizes) -> isl.MultiUnionPwAff:
    """size * floor(member / size) for each member (tile loops that step by the size)."""
    mv = isl.MultiVal.zero(mupa.get_space())
    for k, s in enumerate(sizes):
        mv = mv.set_val(k, isl.Val(str(int(s))))
    return mupa.scale_down_multi_val(mv).floor().scale_multi_val(mv)


def diamond_tile(node: isl.ScheduleNode, plan: DiamondPlan, scop, sizes,
                 l2_factors=None, intra: str | None = None) -> isl.ScheduleNode:
    """Replace the band at ``node`` by a tile band over the plan's hyperplanes (and an L2
    band above it) and the points of a tile in the band's own order (``intra="band"``)
    or in the loop nest's original order (``intra="original"``)."""
    point = node.band_get_partial_schedule()
    c = hyperplane_upa(scop, plan.hyperplane)
    tiles = point
    for pos, j in enumerate(plan.order):
        tiles = tiles.set_at(pos, c if j == -1 else point.get_at(j))
    if (intra or INTRA) == "original":
        orig = scop.schedule.get_map().intersect_domain(node.get_domain())
        node = node.cut()
        node = node.insert_partial_schedule(isl.MultiUnionPwAff.from_union_map(orig))
    else:
        node = node.delete()
        node = node.insert_partial_schedule(point).band_set_permutable(1)
    node = node.insert_partial_schedule(_scaled_floor(tiles, sizes)).band_set_permutable(1)
    if l2_factors:
        big = [f * s for f, s in zip(l2_factors, sizes)]
        node = node.insert_partial_schedule(_scaled_floor(tiles, big)).band_set_permutable(1)
    return node


def _describe(scop, plan: DiamondPlan, sizes, l2) -> str:
    texts = []
    for s, (coeffs, const) in sorted(plan.hyperplane.items()):
        texts.append(f"{s}: {affine_text(coeffs, const, scop.statement(s).iterators)}")
    face = sorted({scop.statement(s).iterators[plan.face] for s in plan.hyperplane})
    text = (f"b{plan.band} diamond-tiled {'x'.join(map(str, sizes))} (concurrent start along "
            f"{'/'.join(face)}): member {plan.replaced} replaced by {'; '.join(texts)} "
            "for the tile loops")
    if l2:
        text += f", L2 tiles of {'x'.join(map(str, l2))} tiles"
    return text


def default_sizes(n_members: int, arrays: int = 2, elem_bytes: int = 8) -> tuple[int, ...]:
    """Diamond tile sizes for ``tile=True``: d along the two diamond hyperplanes (d / 2 time
    steps per tile), 8 along further space members, and a long last member, which the
    innermost loop walks with stride 1 (measured on jacobi-2d and heat-3d LARGE: 32-wide
    innermost windows made the tiles slower than the untransformed nest). d is 32, or
    less where a tile's working set would exceed two thirds of L2: ``arrays`` arrays of a
    space box d x (8 + d) x ... x (256 + d) (the other space members widen by the time
    steps' halo). heat-3d (four members, two arrays) on a Xeon with 2 MiB of L2, LARGE, 2
    threads: d = 32 (5.9 MB) 1.63x the untransformed nest, 16 1.73x, 8 (0.5 MB) 1.92-1.97x,
    4 1.87x. One-dimensional stencils have small footprints: 256 x 256 diamonds."""
    if n_members == 2:
        return (256, 256)
    budget = cache_sizes()["L2"] * 2 // 3
    d = 32
    while d > 4:
        box = d * (256 + d)
        for _ in range(n_members - 3):
            box *= 8 + d
        if arrays * elem_bytes * box <= budget:
            break
        d //= 2
    return (d, d) + (8,) * (n_members - 3) + (256,)


def _band_arrays(scop, node) -> tuple[int, int]:
    """(number of arrays, largest element size) accessed by the band's statements."""
    live = set()
    node.get_domain().foreach_set(lambda s: live.add(s.get_tuple_name()))
    names = {a.array for s in scop.statements if s.name in live for a in s.accesses
             if scop.arrays[a.array].shape}
    sizes = [scop.arrays[a].dtype.np.itemsize for a in names]
    return max(1, len(names)), max(sizes, default=8)


def diamond_tile_bands(sched: isl.Schedule, scop, deps: isl.UnionMap, sizes_of, l2_of=None,
                       *, required: bool = False, coef_bound: int = 4,
                       default_sizes_: bool = False,
                       broken=None) -> tuple[isl.Schedule, list[str]]:
    """Tile every permutable band, diamond-shaped where concurrent start is possible and
    rectangular elsewhere (``rectangular.tile_bands``); ``required``: raise ScheduleError
    when no band can be diamond-tiled; ``default_sizes_`` (``tile=True``): diamond bands
    get ``default_sizes`` instead of ``sizes_of``'s. Returns the schedule and notes for
    ``explain``; ``broken``: as for ``tile_bands`` (a diamond that breaks is not kept)."""
    plans, why = {}, []
    for b, path in enumerate(band_paths(sched)):
        node = node_at(sched, path)
        n = node.band_n_member()
        if n < 2 or not node.band_get_permutable() or not sizes_of(b, n):
            continue
        plan = plan_band(node, b, scop, deps, coef_bound)
        if isinstance(plan, DiamondPlan):
            plans[b] = (path, plan)
        elif required or not plan.startswith(("its tiles have", "it is not")):
            why.append(f"b{b} not diamond-tiled: {plan}")
    if required and not plans:
        raise ScheduleError("diamond=True, but no band of this schedule can be diamond-tiled: "
                            + ("; ".join(why) or "no permutable band of two or more loops "
                               "is tiled") + " (use diamond='auto' or False)")
    def rectangular(b, n, node=None):
        return None if b in plans else sizes_of(b, n, node)

    sched, notes = tile_bands(sched, rectangular, l2_of, broken)
    # the bands left untiled keep their paths: none of them lies under another band
    applied = 0
    for b, (path, plan) in sorted(plans.items()):
        node = node_at(sched, path)
        n = node.band_n_member()
        sizes = default_sizes(n, *_band_arrays(scop, node)) if default_sizes_ \
            else sizes_of(b, n)
        tiled = diamond_tile(node, plan, scop, sizes).get_schedule()
        problem = broken(tiled) if broken is not None else None
        if problem is not None:
            why.append(f"b{b} not diamond-tiled: {problem}")
            continue
        sched = tiled
        applied += 1
        notes.append(_describe(scop, plan, sizes, None))
        if l2_of is not None and l2_of(b, n):
            # one level: isl's AST generation of diamonds inside diamonds took minutes
            # (tile=True, l2_tile=True on jacobi-1d), and the wavefront would then run
            # over L2 tiles, with less parallelism
            notes.append(f"b{b}: no L2 level on diamond tiles")
        log.debug("diamond: %s", notes[-1])
    if required and plans and not applied:
        raise ScheduleError("diamond=True, but no band of this schedule can be diamond-tiled: "
                            + "; ".join(why) + " (use diamond='auto' or False)")
    return sched, notes + why
