"""Rectangular tiling of permutable bands, with an optional second (L2) level.

A permutable band ``(i, j)`` becomes a band of tile loops over a band of point loops:

    for i: for j: S(i, j)     ->     for ti: for tj:                     (tile band)
                                       for i in [32ti, 32ti+31]: for j in [32tj, ...]: S

Only permutable bands are tiled (every dependence has a non-negative distance along each
member, so any order of tiles is legal); bands are numbered b0, b1, ... top-down, as
``polyk.explain`` prints them, so tile sizes can be given per band.
"""

from __future__ import annotations

import functools
import os

import islpy as isl

from ..schedule.schedule import POINT_MARK

DEFAULT_TILE = 32


def band_paths(sched: isl.Schedule) -> list[tuple[int, ...]]:
    """Child-index paths of the band nodes, top-down (the b0, b1, ... numbering)."""
    out = []

    def visit(node, path):
        if node.get_type() == isl.schedule_node_type.band:
            out.append(path)
        for k in range(node.n_children()):
            visit(node.child(k), path + (k,))

    visit(sched.get_root(), ())
    return out


def node_at(sched: isl.Schedule, path) -> isl.ScheduleNode:
    node = sched.get_root()
    for k in path:
        node = node.child(k)
    return node


@functools.lru_cache(maxsize=None)
def cache_sizes() -> dict:
    """Data cache sizes in bytes from sysfs (L1d, L2); defaults where unreadable. L3 is not
    read: virtual machines report nonsense there."""
    out = {"L1": 32 * 1024, "L2": 1024 * 1024}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for idx in os.listdir(base):
            d = os.path.join(base, idx)
            level = open(os.path.join(d, "level")).read().strip()
            kind = open(os.path.join(d, "type")).read().strip()
            size = open(os.path.join(d, "size")).read().strip()
            if kind == "Instruction":
                continue
            mult = 1024 if size.endswith("K") else 1024 * 1024 if size.endswith("M") else 1
            value = int(size.rstrip("KM")) * mult
            if level in ("1", "2"):
                out[f"L{level}"] = value
    except (OSError, ValueError):
        pass
    return out


def default_sizes(n_members: int, elem_bytes: int = 8) -> tuple[int, ...]:
    """Square tiles whose footprint in two arrays fits half of L1, at least 8."""
    l1 = cache_sizes()["L1"]
    side = DEFAULT_TILE
    while side > 8 and 2 * side * side * elem_bytes > l1 // 2:
        side //= 2
    return (side,) * n_members


def tile_bands(sched: isl.Schedule, sizes_of, l2_of=None) -> tuple[isl.Schedule, list[str]]:
    """Tile every permutable band of two or more members.

    ``sizes_of(band_id, n_members)`` gives the tile sizes (None: leave the band alone);
    ``l2_of(band_id, n_members)`` the number of L1 tiles per L2 tile (None: one level).
    Returns the new schedule and notes for ``explain``."""
    notes = []
    paths = band_paths(sched)
    for b, path in reversed(list(enumerate(paths))):
        node = node_at(sched, path)
        n = node.band_n_member()
        if n < 2 or not node.band_get_permutable():
            continue
        sizes = sizes_of(b, n)
        if not sizes:
            continue
        node = _tile(node, sizes, point_mark=True)
        text = f"b{b} tiled {'x'.join(map(str, sizes))}"
        if l2_of is not None:
            factors = l2_of(b, n)
            if factors:
                # the L1 tile loops step by the tile size: an L2 tile spans factor * size
                node = _tile(node, [f * s for f, s in zip(factors, sizes)])
                text += f", L2 tiles of {'x'.join(map(str, factors))} tiles"
        sched = node.get_schedule()
        notes.append(text)
    return sched, list(reversed(notes))


def _tile(node: isl.ScheduleNode, sizes, point_mark=False) -> isl.ScheduleNode:
    """band_tile with isl's defaults (tile loops step by the size, point loops shifted to
    start at 0); both bands stay permutable. ``point_mark``: a POINT_MARK naming the sizes
    above the point band (full/partial tile separation looks for it)."""
    space = node.band_get_space()
    mv = isl.MultiVal.zero(space)
    for k, s in enumerate(sizes):
        mv = mv.set_val(k, isl.Val(str(int(s))))
    tiled = node.band_tile(mv)
    tiled = tiled.band_set_permutable(1)
    point = tiled.child(0).band_set_permutable(1)
    if point_mark:
        point = point.insert_mark(isl.Id(POINT_MARK + "x".join(str(int(v)) for v in sizes)))
    return point.parent()
