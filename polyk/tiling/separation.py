"""Full/partial tile separation: full tiles get point loops without min/max in their bounds.

A tiled band's point loops are bounded by the tile and by the domain:
``for (c2 = 0; c2 <= min(31, N - c0 - 1); c2++)``. Most tiles are full (every point of the
32x32 box is a statement instance); for them the bounds are constants, which lets the
compiler unroll and vectorise without remainder code. isl's AST generator does this split
when the band carries an ``isolate`` option naming the full tiles (as PPCG does): it prints
the isolated tiles first, with simple loops, and the partial tiles after.

The full tiles are computed with isl, per statement: the tile coordinates of its instances
minus the tiles that contain a point of the box [0, size) outside the instances.
"""

from __future__ import annotations

import islpy as isl

from ..schedule.schedule import POINT_MARK


def _all_nodes(node: isl.ScheduleNode) -> list[isl.ScheduleNode]:
    out = [node]
    for k in range(node.n_children()):
        out += _all_nodes(node.child(k))
    return out


def _tile_band_above(mark: isl.ScheduleNode) -> isl.ScheduleNode | None:
    node = mark
    while node.has_parent():
        node = node.parent()
        t = node.get_type()
        if t == isl.schedule_node_type.band:
            return node
        if t != isl.schedule_node_type.mark:
            return None
    return None


def _point_schedule(mark: isl.ScheduleNode, n: int) -> isl.UnionMap | None:
    """The point band's schedule below its mark: ``n`` members, through other marks and
    bands that later passes split it into."""
    node, out, got = mark.child(0), None, 0
    while got < n:
        t = node.get_type()
        if t == isl.schedule_node_type.band:
            part = node.band_get_partial_schedule_union_map()
            out = part if out is None else out.flat_range_product(part)
            got += node.band_n_member()
        elif t != isl.schedule_node_type.mark:
            return None
        if node.n_children() != 1:
            return out if got == n else None
        node = node.child(0)
    return out if got == n else None


def full_tiles(tile: isl.ScheduleNode, pmap: isl.UnionMap, sizes) -> isl.Set | None:
    """Prefix and tile coordinates ``[outer..., tile...]`` of the tiles of ``tile`` whose
    whole point box ([0, size) per member of the point schedule ``pmap``) holds instances:
    there the deepest statements' point loops have constant bounds (a statement of fewer
    loops keeps its guards). None when the instances do not map into one space."""
    prefix = tile.get_prefix_schedule_union_map()
    tmap = tile.band_get_partial_schedule_union_map()
    n_point = len(sizes)
    whole = prefix.flat_range_product(tmap).flat_range_product(pmap)
    image = whole.intersect_domain(tile.get_domain()).range()
    if image.n_set() != 1:
        return None
    image = isl.Set.from_union_set(image)
    first = image.dim(isl.dim_type.set) - n_point
    tiles = image.project_out(isl.dim_type.set, first, n_point)
    box = tiles.insert_dims(isl.dim_type.set, first, n_point)
    for k, size in enumerate(sizes):
        box = box.lower_bound_val(isl.dim_type.set, first + k, isl.Val(0))
        box = box.upper_bound_val(isl.dim_type.set, first + k, isl.Val(int(size) - 1))
    partial = box.subtract(image).project_out(isl.dim_type.set, first, n_point)
    return tiles.subtract(partial).coalesce()


def isolate_option(full: isl.Set, n_tile: int) -> isl.UnionSet:
    """``{ isolate[[outer...] -> [tile...]] : full }``, the form isl's AST build wants."""
    outer = full.dim(isl.dim_type.set) - n_tile
    m = isl.Map.from_range(full).move_dims(isl.dim_type.in_, 0, isl.dim_type.out, 0, outer)
    return isl.UnionSet.from_set(m.wrap().set_tuple_name("isolate"))


def _wavefront(tile: isl.ScheduleNode) -> bool:
    """A band of three or more tile loops run as a wavefront: its first member sequential,
    a later one parallel. Its partial tiles are not separated: isl prints them after the
    full tiles of each wavefront, outside the parallel loop, and with three members they
    are a whole face of tiles per wavefront, run by one thread (lu at LARGE, 2 threads:
    8.8x separated, 10.5x not; jacobi-2d's and heat-3d's diamonds the same either way).
    A two-member wavefront has one partial tile per wavefront and gains from constant
    bounds in the others (mvt, when it still ran as a wavefront: 3.8x separated, 1.5x
    not; trisolv's and jacobi-1d's wavefronts have two members)."""
    n = tile.band_n_member()
    coin = [tile.band_member_get_coincident(j) for j in range(n)]
    return n >= 3 and not coin[0] and any(coin[1:])


def separate_full_tiles(sched: isl.Schedule) -> tuple[isl.Schedule, list[str]]:
    """Set the isolate option on the band directly above each point band (found by its
    POINT_MARK, which carries the tile sizes)."""
    notes = []
    while True:
        marks = [m for m in _all_nodes(sched.get_root())
                 if m.get_type() == isl.schedule_node_type.mark
                 and m.mark_get_id().get_name().startswith(POINT_MARK)]
        for mark in marks:
            tile = _tile_band_above(mark)
            if tile is None or not tile.band_get_ast_build_options().is_empty() or \
                    _wavefront(tile):
                continue
            sizes = [int(v) for v in mark.mark_get_id().get_name()[len(POINT_MARK):]
                     .split("x")]
            pmap = _point_schedule(mark, len(sizes))
            if pmap is None:
                continue
            full = full_tiles(tile, pmap, sizes)
            if full is None or full.is_empty():
                continue
            n_tile = tile.band_n_member()
            sched = tile.band_set_ast_build_options(isolate_option(full, n_tile)) \
                .get_schedule()
            notes.append(f"full tiles of {'x'.join(map(str, sizes))} separated from "
                         "partial tiles")
            break
        else:
            return sched, notes


def without_separation(sched: isl.Schedule) -> isl.Schedule | None:
    """The tree without its isolate options (None when it has none): the fallback where
    isl's AST generator fails on the separated tree (polyk fuzz seed 2260021: "call to
    isl_ast_build_node_from_schedule failed" with OpenMP marks over a 2-wide tile)."""
    changed = []

    def strip(node):
        if node.get_type() != isl.schedule_node_type.band:
            return node
        opts = node.band_get_ast_build_options()
        kept = isl.UnionSet.empty(opts.get_space())
        dropped = []

        def keep(s):
            if s.get_tuple_name() == "isolate":
                dropped.append(s)
            else:
                nonlocal kept
                kept = kept.union(isl.UnionSet.from_set(s))
        opts.foreach_set(keep)
        if not dropped:
            return node
        changed.append(True)
        return node.band_set_ast_build_options(kept)

    out = sched.map_schedule_node_bottom_up(strip)
    return out if changed else None
