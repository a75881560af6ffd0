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

from ..schedule.schedule import POINT_MARK, band_paths, node_at  # noqa: F401 (re-exported)

DEFAULT_TILE = 32


@functools.lru_cache(maxsize=None)
def cache_sizes(base: str = "/sys/devices/system/cpu/cpu0/cache") -> dict:
    """Data cache sizes in bytes from sysfs (L1d, L2); defaults where unreadable. L3 is not
    read: virtual machines report nonsense there."""
    out = {"L1": 32 * 1024, "L2": 1024 * 1024}
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return out
    for idx in entries:
        if not idx.startswith("index"):         # e.g. "uevent", a file
            continue
        d = os.path.join(base, idx)
        try:
            level = open(os.path.join(d, "level")).read().strip()
            kind = open(os.path.join(d, "type")).read().strip()
            size = open(os.path.join(d, "size")).read().strip()
            mult = 1024 if size.endswith("K") else 1024 * 1024 if size.endswith("M") else 1
            value = int(size.rstrip("KM")) * mult
        except (OSError, ValueError):
            continue
        if kind != "Instruction" and level in ("1", "2"):
            out[f"L{level}"] = value
    return out


def default_sizes(n_members: int, elem_bytes: int = 8) -> tuple[int, ...]:
    """Square tiles whose footprint in two arrays fits half of L1, at least 8."""
    l1 = cache_sizes()["L1"]
    side = DEFAULT_TILE
    while side > 8 and 2 * side * side * elem_bytes > l1 // 2:
        side //= 2
    return (side,) * n_members


def tile_bands(sched: isl.Schedule, sizes_of, l2_of=None,
               broken=None) -> tuple[isl.Schedule, list[str]]:
    """Tile every permutable band of two or more members.

    ``sizes_of(band_id, n_members, band_node)`` gives the tile sizes (None: leave the
    band alone);
    ``l2_of(band_id, n_members)`` the number of L1 tiles per L2 tile (None: one level);
    ``broken(schedule)``: why a tiled schedule is wrong, or None (a band permutable only
    because private scalars' dependences were dropped may interleave a scalar's uses when
    tiled; then only its outer members are tiled, or none). Returns the new schedule and
    notes for ``explain``."""
    notes = []
    paths = band_paths(sched)
    for b, path in reversed(list(enumerate(paths))):
        node = node_at(sched, path)
        n = node.band_n_member()
        if n < 2 or not node.band_get_permutable():
            continue
        sizes = sizes_of(b, n, node)
        if not sizes:
            continue
        factors = l2_of(b, n) if l2_of is not None else None
        for depth in range(n, 1, -1):
            tiled, text = _tile_outer(node, depth, sizes, factors)
            why = broken(tiled) if broken is not None else None
            if why is None:
                break
        if why is not None:
            notes.append(f"b{b} not tiled: {why}")
            continue
        if depth < n:
            text += f" (outer {depth} of {n} loops: tiling all of them interleaved a " \
                    "private scalar's uses)"
        sched = tiled
        notes.append(f"b{b} tiled {text}")
    return sched, list(reversed(notes))


def _tile_outer(node: isl.ScheduleNode, depth: int, sizes, factors):
    """The schedule with the outer ``depth`` members of band ``node`` tiled (and an L2
    level over them where ``factors``), and the note's text."""
    n = node.band_n_member()
    if depth < n:
        node = node.band_split(depth)
        sizes = sizes[:depth]
        factors = factors[:depth] if factors else factors
    node = _tile(node, sizes, point_mark=True)
    text = "x".join(map(str, sizes))
    if factors:
        # the L1 tile loops step by the tile size: an L2 tile spans factor * size
        node = _tile(node, [f * s for f, s in zip(factors, sizes)])
        text += f", L2 tiles of {'x'.join(map(str, factors))} tiles"
    return node.get_schedule(), text


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
