"""Register tiling (unroll-and-jam) of point bands.

A tiled permutable band's point band ``(p_0, ..., p_n-1)`` is tiled once more, for
registers. Three members play a part:

    v  the innermost member, parallel: the vector loop (its accesses walk stride 1)
    u  the outermost other parallel member: unrolled ``fu`` times and jammed
    r  a member along which every written element stays the same (a reduction such as
       gemm's k): it becomes the loop inside the register block, so the written elements
       (the accumulators) can live in registers across it (scalar replacement, register.py)

For gemm's point band (i, k, j) with factors (4, 16) the point loops become

    for ib in 0..31 step 4: for jb in 0..31 step 16:       band A: (u - u mod fu, v - v mod
      for k:                                                        fv, other members, r)
        for ii in 0..3 (unrolled): for jj in 0..15 (simd)   band B: (u mod fu, v mod fv)
          C[ib+ii][jb+jj] += alpha * A[ib+ii][k] * B[k][jb+jj]

This is a tiling of a permutable band followed by a permutation of the tile members, so it
is legal whenever the point band is permutable (and the checker verifies it anyway).
Register blocks that lie entirely inside the domain are isolated (isl's ``isolate``
option, as for full tiles): their loops have constant bounds, and the printer
(register.py) unrolls ``ii`` and prints ``jj`` as vectors; register blocks at a partial
edge keep plain loops. Automatic factors divide the tile.

Factors: ``unroll_jam=(fu, fv)``; None chooses (8, two vectors) where vectors are 512-bit
(32 registers) and (4, four vectors) otherwise, clipped to the tile; a factor larger than
its tile is an OptionsError naming both.
"""

from __future__ import annotations

import islpy as isl

from ..errors import OptionsError
from ..schedule.schedule import POINT_MARK, multi_union_pw_aff, parallel_mark_depths
from .packing import access_pattern, pack_mark_entries, read_only
from .rectangular import cache_sizes, default_sizes
from .separation import full_tiles, isolate_option

REGISTER_MARK = "polyk_register"
# isl's isolate option on the register-block band: full register blocks apart from the
# partial ones, so that partial tiles (a dimension not a multiple of the tile) still run
# mostly in register blocks (gemm at PolyBench's LARGE shape: 0.6 -> 0.95 of OpenBLAS);
# it costs AST generation time (about 2-3x for gemm).
ISOLATE = True
VECTOR_BYTES = 64          # AVX-512; the default when the caller does not say
NO_VECTOR = 999            # the vector depth of a block of scalar accumulators (no loop)


def register_mark(r_depth: int, v_depth: int) -> str:
    """Mark above band A: the schedule depth of the loop kept inside the register block
    (r) and of the vector loop (v), i.e. AST iterators c<r_depth> and c<v_depth>."""
    return f"{REGISTER_MARK}@{r_depth}:{v_depth}"


def register_mark_depths(name: str) -> tuple[int, int] | None:
    if not name.startswith(REGISTER_MARK + "@"):
        return None
    r, v = name.split("@", 1)[1].split(":")
    return int(r), int(v)


def _statements(scop, node: isl.ScheduleNode, only=None) -> list:
    """The statements with instances under ``node`` (of those named ``only``), in program
    order."""
    live = set()
    node.get_domain().foreach_set(lambda s: live.add(s.get_tuple_name()))
    if only is not None:
        live &= set(only)
    return [s for s in scop.statements if s.name in live]


def _member_map(node: isl.ScheduleNode, j: int) -> isl.UnionMap:
    return isl.UnionMap.from_union_pw_aff(node.band_get_partial_schedule().get_at(j))


def _same_but(node: isl.ScheduleNode, j: int) -> isl.UnionMap:
    """Pairs of instances under the band with the same prefix and the same values of every
    member but j."""
    same = node.get_prefix_schedule_union_map().intersect_domain(node.get_domain())
    same = same.apply_range(same.reverse())
    for k in range(node.band_n_member()):
        if k != j:
            m = _member_map(node, k)
            same = same.intersect(m.apply_range(m.reverse()))
    return same


def _writes_invariant(scop, node: isl.ScheduleNode, j: int, only=None) -> bool:
    """Two instances under the band that differ only in member j (same prefix, same other
    members) write the same elements: the written elements are reused along j. ``only``:
    look at these statements (names) alone."""
    same = _same_but(node, j)
    wrote = False
    for s in _statements(scop, node, only):
        for a in s.writes():
            if not scop.arrays[a.array].shape:
                return False       # a scalar written in the block: leave it alone
            rel = isl.UnionMap.from_map(a.relation)
            moved = same.apply_domain(rel).apply_range(rel)
            if moved.is_empty():
                continue
            wrote = True
            rank = len(scop.arrays[a.array].shape)
            tup = a.relation.get_tuple_name(isl.dim_type.out)
            zero = isl.UnionSet(f"{{ {tup}[{', '.join(['0'] * rank)}] }}")
            if not moved.deltas().is_subset(zero):
                return False
    return wrote


def _elem_bytes(scop, node) -> int:
    sizes = [scop.arrays[a.array].dtype.np.itemsize for s in _statements(scop, node)
             for a in s.writes()]
    return min(sizes) if sizes else 8


def _point_sizes(mark: isl.ScheduleNode) -> list[int]:
    return [int(v) for v in mark.mark_get_id().get_name()[len(POINT_MARK):].split("x")]


def choose_members(scop, band: isl.ScheduleNode, pack: bool = False):
    """(u, r, v) member positions in the point band, u None when no other parallel member,
    v None for a block of scalar accumulators along u (no member walks its accesses with
    stride 1 and carries no dependence); None when the band has no reduction member, or
    neither a vector member nor a parallel member along which the written elements
    change. ``pack``: arrays will be packed (``transposed_dim``)."""
    n = band.band_n_member()
    if n < 2:
        return None
    v = n - 1
    if not band.band_member_get_coincident(v):
        v = _outer_vector_member(scop, band, pack)
    rs = [j for j in range(n) if j != v and _writes_invariant(scop, band, j)]
    if not rs:
        return _chains_block(scop, band) if v is None else None
    r = rs[-1]                    # the innermost reduction member stays innermost
    us = [j for j in range(n) if j not in (r, v) and band.band_member_get_coincident(j)]
    if v is None:
        # no vector member: where the innermost member is the reduction (a chain of
        # dependent adds, latency-bound), a block of scalar accumulators along u, if the
        # written elements change along it (independent chains)
        us = [j for j in us if not _writes_invariant(scop, band, j)]
        return (us[-1], r, None) if us and r == n - 1 else None
    return (us[0] if us else None), r, v


def _chains_block(scop, band: isl.ScheduleNode):
    """(u, n - 1, None) for a band without a vector member whose innermost member is a
    reduction of some statements only: bicg's point band (i, j) sums q[i] along j (a chain
    of dependent adds, the latency bound of the untransformed nest) while s[j] is summed
    along i. Blocking u (here i) and jamming it gives fu independent q chains; s[j] takes
    its fu updates one after the other, in the order of the loop. u need not be parallel:
    the band is permutable, so the block is a tiling of it (and the checker verifies it).
    u is the innermost member along which the summed elements change. Only where every
    statement is an accumulation that no other statement of the band sees (it reads the
    array it writes only at the written element, and the others do not access it), so
    the dependences only order each element's updates: elsewhere such a band has its
    tiles run as a wavefront (bands with flows between statements), and the long tiles
    below would suit neither that nor the printer (register.py may decline the block).
    None otherwise."""
    n = band.band_n_member()
    if not band.band_get_permutable():
        return None
    stmts = _statements(scop, band)
    if any(not scop.arrays[a.array].shape for st in stmts for a in st.writes()):
        return None
    for st in stmts:
        for w in st.writes():
            if any(a.array == w.array and (other is not st or not a.relation.is_equal(
                    w.relation)) for other in stmts for a in other.accesses):
                return None
    chains = [st.name for st in stmts if _writes_invariant(scop, band, n - 1, [st.name])]
    if not chains:
        return None
    us = [j for j in range(n - 1) if _writes_change(scop, band, j, chains)]
    return (us[-1], n - 1, None) if us else None


def _writes_change(scop, band: isl.ScheduleNode, j: int, only) -> bool:
    """A step along member j (the others fixed) moves every element that the statements
    ``only`` write, and there are such steps."""
    pairs = _steps(band, j)
    moved_any = False
    for st in scop.statements:
        if st.name not in only:
            continue
        for a in st.writes():
            deltas = _deltas(pairs, a)
            if deltas is None:
                continue
            moved_any = True
            if not deltas.intersect(_unit(a, len(scop.arrays[a.array].shape), None)).is_empty():
                return False
    return moved_any


def _outer_vector_member(scop, band: isl.ScheduleNode, pack: bool = False) -> int | None:
    """Where the innermost member carries a dependence (doitgen's point band (p, s): the
    sum over s innermost, since the only parallel member p stays outside for its tile
    loop), the innermost parallel member whose accesses are stride-1 or invariant where
    the innermost member's are not: the register block brings it inside."""
    n = band.band_n_member()
    par = [j for j in range(n - 1) if band.band_member_get_coincident(j)]
    if not par:
        return None
    scores = {j: _stride_score(scop, band, j, pack) for j in par + [n - 1]}
    best = max(par, key=lambda j: (scores[j][0], j))
    if scores[best][1] == 0:
        return best               # every access stride 1 or invariant: vectors along it
    return best if scores[best][0] > scores[n - 1][0] else None


def _steps(band: isl.ScheduleNode, j: int) -> isl.UnionMap:
    """Pairs of instances under the band one step apart along member j, the outer loops
    and the other members the same."""
    m = _member_map(band, j)
    step = m.apply_range(isl.UnionMap("{ [x] -> [x + 1] }")).apply_range(m.reverse())
    return _same_but(band, j).intersect(step)


def _deltas(pairs: isl.UnionMap, a) -> isl.UnionSet | None:
    """How the element of access ``a`` moves over ``pairs`` (None: no such pair)."""
    rel = isl.UnionMap.from_map(a.relation)
    moved = pairs.apply_domain(rel).apply_range(rel)
    return None if moved.is_empty() else moved.deltas()


def _unit(a, rank: int, d: int | None, signs=(1,)) -> isl.UnionSet:
    """{ A[0, .., s, .., 0] : s in signs } (s at dimension d), or the zero vector."""
    tup = a.relation.get_tuple_name(isl.dim_type.out)
    idx = ["0"] * rank
    if d is None:
        return isl.UnionSet(f"{{ {tup}[{', '.join(idx)}] }}")
    idx[d] = "s"
    cond = " or ".join(f"s = {x}" for x in signs)
    return isl.UnionSet(f"{{ {tup}[{', '.join(idx)}] : {cond} }}")


def transposed_dim(scop, band: isl.ScheduleNode, j: int, a, deltas=None) -> int | None:
    """The dimension d < rank - 1 of access ``a`` along which a step of member j moves it
    by +1 (the others fixed), where packing can make d the buffer's last dimension: the
    array is read-only and another member of the band leaves the element invariant (the
    tile reuses the packed copy). syrk's A[j][k] under (i, j, k): d = 0 for j, reused
    along i. None otherwise."""
    rank = len(scop.arrays[a.array].shape)
    if rank < 2 or not read_only(scop, a.array):
        return None
    if deltas is None:
        deltas = _deltas(_steps(band, j), a)
    if deltas is None:
        return None
    dims = [d for d in range(rank - 1) if deltas.is_subset(_unit(a, rank, d))]
    if not dims:
        return None
    for m in range(band.band_n_member()):
        if m != j:
            other = _deltas(_steps(band, m), a)
            if other is not None and other.is_subset(_unit(a, rank, None)):
                return dims[0]
    return None


def _stride_score(scop, band: isl.ScheduleNode, j: int,
                  pack: bool = False) -> tuple[int, int]:
    """Spatial locality of a step along member j (the others and the outer loops fixed),
    read from the access relations: +2 per access it walks with stride 1, +1 per access it
    leaves invariant, -4 per other access (as polyk.tiling.intratile scores a band's
    members from their coefficients; this works on point bands too); and the number of
    those other accesses. With ``pack``, an access that packing will transpose
    (``transposed_dim``) counts as stride 1."""
    pairs = _steps(band, j)
    score = bad = 0
    for st in _statements(scop, band):
        for a in st.accesses:
            rank = len(scop.arrays[a.array].shape)
            if not rank:
                score += 1
                continue
            deltas = _deltas(pairs, a)
            if deltas is None:
                continue
            if deltas.is_subset(_unit(a, rank, None)):
                score += 1
            elif deltas.is_subset(_unit(a, rank, rank - 1, (1, -1))):
                score += 2
            elif pack and transposed_dim(scop, band, j, a, deltas) is not None:
                score += 2
            else:
                score -= 4
                bad += 1
    return score, bad


def _pow2_at_most(x: int) -> int:
    return 1 << (max(1, x).bit_length() - 1)


# The automatic register block, ``_factors`` clips it to the tile. With 16 vector registers
# (AVX2) four rows of four vectors (gemm f64 1024, 1 thread, on an AVX2 machine: (4, 16)
# 21.3 GFLOP/s, (4, 32) 15.5, (4, 8) 19.1, (6, 8) 17.4); with AVX-512 eight rows of two
# vectors (gemm f64 2048^3, 1 thread, a Xeon with AVX-512, 2026-12-06, tiles (mc, kc,
# 512): 8 x 16 with mc = 128 52-54 GFLOP/s, 4 x 32 45, 6 x 32 and 12 x 16 (24
# accumulators) 51-52, 8 x 24 with nc = 480 38).
AUTO_ROWS, AUTO_VECTORS = 4, 4
AUTO_ROWS_512, AUTO_VECTORS_512 = 8, 2
# A block without a vector member (atax's row sums: the reduction innermost, the parallel
# member strides across rows): this many scalar accumulators, independent chains of
# dependent adds, enough to hide the latency of two FMA pipes of 4 cycles.
SCALAR_ROWS = 8


def _auto_block(elem_bytes: int, vector_bytes: int) -> tuple[int, int]:
    if vector_bytes >= 64:
        return AUTO_ROWS_512, AUTO_VECTORS_512 * vector_bytes // elem_bytes
    return AUTO_ROWS, AUTO_VECTORS * vector_bytes // elem_bytes


def register_block_tile_sizes(scop, band: isl.ScheduleNode, option=None,
                              vector_bytes: int = VECTOR_BYTES,
                              pack: bool = False) -> tuple[int, ...] | None:
    """Default tile sizes (``tile=True``) for a permutable band whose point band will hold
    register blocks, or None where it will not (no vector and reduction members).

    The sizes follow the analytic model of BLIS (Low, Igual, Smith, Quintana-Orti, "Analytical
    modeling is enough for high-performance BLIS", TOMS 2016) with the register block of
    ``_factors``, fu rows of fv elements: the reduction member r (gemm's k, kc) so that a
    block's strip of the reused input, kc x fv elements, fills two thirds of L1; the
    vector member v (nc) so that the kc x nc block fills a quarter of L2; the unrolled
    member u (mc) so that the mc x kc block fills an eighth of L2, but at most 16 register
    blocks: u is usually the parallel tile loop, and with larger tiles the threads get
    uneven shares and the partial tile at the edge (up to mc - 1 rows, one thread) grows.
    Other members get the default square size. Measured for gemm here (L1d 48 KiB, L2
    1 MiB, AVX-512), 2 threads: f32 1000x1100x1200 (i, k, j) = (64, 128, 512) 222 GFLOP/s
    against 172 with mc = 256; f64 (64, 128, 256) against the former 32^3 tiles: 123 vs
    106 at 1024^3, 128 vs 95 at 2048^3, 114 vs 117 at 1000x1100x1200
    (docs/performance.md)."""
    n = band.band_n_member()
    if n < 2 or not band.band_get_permutable():
        return None
    pick = choose_members(scop, band, pack)
    if pick is None:
        return None
    u, r, v = pick
    elem = _elem_bytes(scop, band)
    if v is None:
        return _scalar_block_tile_sizes(n, u, r, elem, option)
    fu, fv = option if option is not None else _auto_block(elem, vector_bytes)
    caches = cache_sizes()
    kc = max(8, _pow2_at_most(caches["L1"] * 2 // 3 // (fv * elem)))
    sizes = list(default_sizes(n, elem))
    sizes[r] = kc
    # the kc x nc blocks of every input walked along v share the quarter of L2 (syr2k
    # reads A[j][k] and B[j][k]: two packed blocks)
    share = max(1, _inputs_along(scop, band, v))
    sizes[v] = max(fv, _pow2_at_most(caches["L2"] // 4 // (kc * elem * share)))
    if u is None:
        # one row of accumulators (doitgen's sum[p] += A[r, q, s] * C4[s, p]): v is the
        # parallel tile loop, and nc would leave it one tile (NP = 160): 2.5x against
        # 3.2x with fv-wide tiles at LARGE, 2 threads
        sizes[v] = fv
    if u is not None:
        sizes[u] = max(fu, min(16 * fu, _pow2_at_most(caches["L2"] // 8 // (kc * elem))))
    return tuple(sizes)


def _inputs_along(scop, band: isl.ScheduleNode, v: int) -> int:
    """The number of access patterns (array and index expressions up to constants) of
    read-only arrays whose elements change along member v."""
    pairs = _steps(band, v)
    pats = set()
    for st in _statements(scop, band):
        for a in st.reads():
            rank = len(scop.arrays[a.array].shape)
            if not rank or not read_only(scop, a.array):
                continue
            deltas = _deltas(pairs, a)
            if deltas is not None and not deltas.is_subset(_unit(a, rank, None)):
                pats.add((a.array, access_pattern(a)))
    return len(pats)


def _scalar_block_tile_sizes(n, u, r, elem, option) -> tuple[int, ...]:
    """Tiles of a band holding blocks of scalar accumulators (row sums: each element read
    once, the vector along r reused by every row): r long, so that each of the block's
    rows is a long stride-1 run for the prefetcher while the vector's strip of r stays in
    a quarter of L1; u a few blocks (8 here: the parallel tile loop keeps enough tiles).
    gesummv at LARGE, 2 threads, against the untransformed nest: (u, r) = (32, 32) 0.68x,
    (64, 512) 2.1x, (64, 2048) 2.1x, (128, 2048) 1.9x, (16, 4096) 1.5x."""
    fu = SCALAR_ROWS if option is None else option[0]
    sizes = list(default_sizes(n, elem))
    sizes[r] = max(sizes[r], min(2048, _pow2_at_most(cache_sizes()["L1"] // 4 // elem)))
    sizes[u] = max(fu, 8 * fu)
    return tuple(sizes)


def _largest_divisor(size, at_most):
    f = at_most
    while f > 1 and size % f:
        f -= 1
    return f


def _factors(option, elem_bytes, sizes, u, v, vector_bytes=VECTOR_BYTES) -> tuple[int, int]:
    if v is None:                 # scalar accumulators: (fu, 1)
        fu = SCALAR_ROWS if option is None else option[0]
        if option is not None and fu > sizes[u]:
            raise OptionsError(f"unroll_jam factor {fu} is larger than the tile size "
                               f"{sizes[u]} of the loop it unrolls")
        return _largest_divisor(sizes[u], fu), 1
    if option is None:
        rows, lanes = _auto_block(elem_bytes, vector_bytes)
        fv = _largest_divisor(sizes[v], lanes)
        fu = _largest_divisor(sizes[u], rows) if u is not None else 1
        return fu, fv
    fu, fv = option
    if u is not None and fu > sizes[u]:
        raise OptionsError(f"unroll_jam factor {fu} is larger than the tile size {sizes[u]} "
                           "of the loop it unrolls")
    if fv > sizes[v]:
        raise OptionsError(f"unroll_jam factor {fv} is larger than the tile size {sizes[v]} "
                           "of the loop it unrolls")
    return (fu if u is not None else 1), fv


def register_tile(sched: isl.Schedule, scop, option, vector_bytes: int = VECTOR_BYTES,
                  pack: bool = False) -> tuple[isl.Schedule, list[str]]:
    """Register-tile every point band (below a POINT_MARK, innermost) that has a vector
    member and a reduction member. ``option``: (fu, fv) or None (automatic); ``pack``:
    the tiles' arrays are packed (a vector member may walk a transposed buffer)."""
    notes = []
    done = set()
    while True:
        todo = [(path, m) for path, m in _marks(sched.get_root(), ())
                if path not in done]
        if not todo:
            return sched, notes
        path, mark = todo[0]
        done.add(path)
        band = mark.child(0)
        inner_marks = []
        while band.get_type() == isl.schedule_node_type.mark:
            inner_marks.append(band.mark_get_id().get_name())
            band = band.child(0)
        if band.get_type() != isl.schedule_node_type.band or \
                band.child(0).get_type() != isl.schedule_node_type.leaf:
            continue
        # a vector member walking an array in a transposed buffer only where packing
        # (above, in pipeline order) transposed one for this tile
        here = pack and any("@" in e for name in inner_marks
                            for e in pack_mark_entries(name) or ())
        pick = choose_members(scop, band, here)
        if pick is None:
            continue
        u, r, v = pick
        if not _marks_survive(inner_marks, band, r):
            continue
        sizes = _point_sizes(mark)
        if len(sizes) != band.band_n_member():
            continue
        fu, fv = _factors(option, _elem_bytes(scop, band), sizes, u, v, vector_bytes)
        if fu * fv <= 1:
            continue
        node, text = _split(band, u, r, v, fu, fv, len(inner_marks))
        sched = node.get_schedule()
        notes.append(text)


def _marks_survive(names, band, r) -> bool:
    """A parallel mark between the point mark and the band names schedule depths; after
    the split each depth holds member ``order_a[depth - band depth]``, which must still be
    parallel (the checker would refuse it otherwise)."""
    n = band.band_n_member()
    order_a = [j for j in range(n) if j != r] + [r]
    depth = band.get_schedule_depth()
    for name in names:
        for d in parallel_mark_depths(name) or ():
            if d < 0:
                continue
            k = d - depth
            if not 0 <= k < n or not band.band_member_get_coincident(order_a[k]):
                return False
    return True


def _marks(node: isl.ScheduleNode, path):
    """(child-index path, node) of every POINT_MARK, top-down."""
    out = []
    if node.get_type() == isl.schedule_node_type.mark and \
            node.mark_get_id().get_name().startswith(POINT_MARK):
        out.append((path, node))
    for k in range(node.n_children()):
        out += _marks(node.child(k), path + (k,))
    return out


def _split(band: isl.ScheduleNode, u, r, v, fu, fv, n_marks=0):
    """Replace the point band by band A (blocks, other members, r) over band B (u mod fu,
    v mod fv), with a register mark above A."""
    n = band.band_n_member()
    mupa = band.band_get_partial_schedule()
    coin = [band.band_member_get_coincident(j) for j in range(n)]
    members = [mupa.get_at(j) for j in range(n)]

    def block(j, f):
        m = members[j]
        return m.sub(m.mod_val(isl.Val(f))) if f > 1 else m

    order_a = [j for j in range(n) if j != r] + [r]
    a_list = [block(j, fu if j == u else fv if j == v else 1) for j in order_a]
    b_idx = ([u] if u is not None and fu > 1 else []) + ([v] if v is not None else [])
    b_list = [members[j].mod_val(isl.Val(fu if j == u else fv)) for j in b_idx]
    depth = band.get_schedule_depth()
    node = band.delete()
    node = node.insert_partial_schedule(multi_union_pw_aff(b_list))
    node = node.band_set_permutable(1)
    for k, j in enumerate(b_idx):
        node = node.band_member_set_coincident(k, int(coin[j]))
    node = node.insert_partial_schedule(multi_union_pw_aff(a_list))
    node = node.band_set_permutable(1)
    for k, j in enumerate(order_a):
        node = node.band_member_set_coincident(k, int(coin[j]))
    # isolate the full register blocks: constant bounds, and the unrolled member there
    pmap = node.child(0).band_get_partial_schedule_union_map()
    bsizes = [fu if j == u else fv for j in b_idx]
    full = full_tiles(node, pmap, bsizes)
    if ISOLATE and full is not None and not full.is_empty():
        node = node.band_set_ast_build_options(isolate_option(full, n))
    r_depth = depth + n - 1
    v_depth = depth + n + len(b_idx) - 1 if v is not None else NO_VECTOR
    for _ in range(n_marks):          # above the marks that were above the point band
        node = node.parent()
    node = node.insert_mark(isl.Id(register_mark(r_depth, v_depth)))
    if v is None:
        text = (f"register tile {fu}x1 at depth {depth} (unroll-and-jam; loop c{r_depth} "
                f"inside the block, {fu} scalar accumulators)")
    else:
        text = (f"register tile {fu}x{fv} at depth {depth} (unroll-and-jam; loop "
                f"c{r_depth} inside the block, c{v_depth} the vector loop)")
    return node, text
