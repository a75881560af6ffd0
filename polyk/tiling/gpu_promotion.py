"""Memory promotion for CUDA kernels: shared-memory buffers and per-thread register tiles.

Footprints come from the access relations: for a kernel and an array, the elements that
the instances with given outer schedule values (the tile loops) touch, as an isl map
``[c0, ..., cd] -> A[e]``. Each dimension is over-approximated by an interval
``offset(c) .. offset(c) + size - 1`` with ``offset`` affine and ``size`` a constant
(``footprint.box_hull``, shared with the CPU packing: the box isl's
``get_range_simple_fixed_box_hull`` computes, whose accessors islpy does not wrap).

- Shared memory: an array only read in a kernel, whose box fits, is copied into a
  ``__shared__`` buffer of the box's (compile-time) size at the top of each tile of the
  kernel's inner tile loops, by all threads with consecutive threads on consecutive
  elements (coalesced), between two ``__syncthreads()``. Only read arrays are copied in,
  so nothing is copied back. "auto" does it where several threads read one element
  (reuse across threads) and the kernel has an inner tile loop to amortise the copy.
- Registers: an array whose every access in a kernel is ``A[p0 + k0, p1 + k1, ...]`` with
  ``p`` the kernel's mapped (thread) loops in some order and ``k`` constants is owned
  element-wise by threads: each thread keeps its elements in a local array indexed by
  its unrolled point-loop counters (compile-time indices, so registers), loaded once per
  block tile and stored back after it (only elements inside the array; an element of the
  tile that no instance writes is written back unchanged by its only owner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import islpy as isl

from .footprint import box_hull

MAX_REGISTERS_PER_ARRAY = 64


@dataclass
class SharedBuffer:
    array: str
    offsets: list          # isl.Aff per dimension, over the copy-level schedule prefix
    sizes: list            # int per dimension
    layout: tuple = ()     # the array's dimensions in the buffer's order (outer to inner)
    pad: int = 0           # elements added to the buffer's innermost dimension

    def __post_init__(self):
        if not self.layout:
            self.layout = tuple(range(len(self.sizes)))

    @property
    def volume(self) -> int:
        """Elements of the footprint box (what is copied)."""
        return math.prod(self.sizes)

    @property
    def shape(self) -> tuple:
        """The ``__shared__`` array's extents: the box in buffer order, padded."""
        out = [self.sizes[d] for d in self.layout]
        out[-1] += self.pad
        return tuple(out)


@dataclass
class RegisterTile:
    array: str
    mapped: list           # per array dimension, the mapped member index it follows
    consts: list           # per array dimension, the constant offset from that member
    written: bool = True   # stored back after the tile (only when the kernel writes it)


@dataclass
class Promotion:
    shared: list
    registers: list
    notes: list


def _umap(m) -> isl.UnionMap:
    return m if isinstance(m, isl.UnionMap) else isl.UnionMap.from_map(m)


def _kernel_accesses(scop, dom: isl.UnionSet, array: str, kind: str | None = None):
    out = []
    for s in scop.statements:
        for a in s.accesses:
            if a.array == array and (kind is None or a.kind == kind):
                rel = _umap(a.relation).intersect_domain(dom)
                if not rel.is_empty():
                    out.append((s, a, isl.Map.from_union_map(rel)))
    return out


def _single_value(m: isl.Map):
    """The value of a map's one output dimension if it is the same everywhere."""
    rng = m.range()
    if rng.is_empty():
        return None
    lo, hi = rng.dim_min_val(0), rng.dim_max_val(0)
    if lo.is_int() and hi.is_int() and lo.to_python() == hi.to_python():
        return lo.to_python()
    return None


def _follows(rel: isl.Map, d: int, point_members) -> tuple | None:
    """``(j, k)`` where dimension ``d`` of the access ``rel`` is the mapped point member
    ``j`` plus the constant ``k`` at every instance, else None."""
    rank = rel.dim(isl.dim_type.out)
    sdom = rel.domain()
    ed = rel.project_out(isl.dim_type.out, d + 1, rank - d - 1) \
        .project_out(isl.dim_type.out, 0, d).reset_tuple_id(isl.dim_type.out)
    for j, upa in enumerate(point_members):
        pj = isl.UnionMap.from_union_pw_aff(upa).intersect_domain(isl.UnionSet.from_set(sdom))
        if pj.is_empty():
            continue
        pj = isl.Map.from_union_map(pj).reset_tuple_id(isl.dim_type.out)
        k = _single_value(ed.sum(pj.neg()))
        if k is not None:
            return j, k
    return None


def _register_tile(scop, kernel, dom, array, point_members) -> RegisterTile | None:
    """The register tile of ``array`` in the kernel, if each of its accesses follows the
    mapped point members (see the module text)."""
    rank = len(scop.arrays[array].shape)
    if rank != kernel.n_mapped:
        return None
    accesses = _kernel_accesses(scop, dom, array)
    if not accesses:
        return None
    mapped, consts = None, None
    for s, a, rel in accesses:
        got_m, got_k = [], []
        for d in range(rank):
            found = _follows(rel, d, point_members)
            if found is None:
                return None
            got_m.append(found[0])
            got_k.append(found[1])
        if sorted(got_m) != list(range(rank)):
            return None
        if mapped is None:
            mapped, consts = got_m, got_k
        elif (mapped, consts) != (got_m, got_k):
            return None
    count = 1
    for j in mapped:
        count *= kernel.per_thread[j]
    if count > MAX_REGISTERS_PER_ARRAY:
        return None
    written = any(a.kind == "write" for _, a, _ in accesses)
    return RegisterTile(array, mapped, consts, written)


def _reuse_across_threads(reads: isl.UnionMap, same_prefix, same_thread) -> bool:
    pairs = reads.apply_range(reads.reverse()).intersect(same_prefix)
    return not pairs.subtract(same_thread).is_empty()


def vector_widths(scop, kernel, regs, vector=None) -> tuple:
    """Consecutive points per thread in each mapped member (``GpuKernel.point_offset``):
    in kernels with register tiles, ``vector`` (default: 16 bytes of the register tiles'
    widest element type, so 4 floats or 2 doubles) where it divides the thread's points,
    so shared-memory reads of a thread's points are one 16-byte load; else 1."""
    if not regs or vector == 1:
        return (1,) * kernel.n_mapped
    width = vector or 16 // max(scop.arrays[r.array].dtype.np.itemsize for r in regs)
    return tuple(width if p % width == 0 and width > 1 else 1 for p in kernel.per_thread)


def _layout(rels, kernel, point_members, sizes, itemsize) -> tuple[tuple, int]:
    """(dimension order, padding) of a shared buffer in a kernel with vector widths: the
    dimensions that follow a vectorised mapped member go innermost (ordered by member, so
    threadIdx.x's is last), for 16-byte reads of a thread's consecutive points; where that
    transposes the array, the innermost dimension is padded so the coalesced copy (array
    order) stores to distinct banks, keeping rows 16-byte aligned."""
    rank = len(sizes)
    follows = {}
    for d in range(rank):
        got = {(_follows(rel, d, point_members) or (None,))[0] for rel in rels}
        if len(got) == 1 and None not in got and kernel.vector[next(iter(got))] > 1:
            follows[d] = next(iter(got))
    inner = sorted(follows, key=lambda d: follows[d])
    layout = tuple([d for d in range(rank) if d not in follows] + inner)
    if layout == tuple(range(rank)):
        return layout, 0
    step = max(1, 16 // itemsize)
    best = None
    for pad in range(0, 33, step):
        row = sizes[layout[-1]] + pad
        banks = {}
        for e in range(min(32, math.prod(sizes))):
            x, rest = [], e
            for d in reversed(range(rank)):
                x.append(rest % sizes[d])
                rest //= sizes[d]
            x = x[::-1]
            addr = 0
            for d in layout[:-1]:
                addr = addr * (sizes[d] if d != layout[-1] else row) + x[d]
            addr = addr * row + x[layout[-1]]
            banks.setdefault(addr * itemsize // 4 % 32, set()).add(addr)
        worst = max(len(v) for v in banks.values())
        if best is None or worst < best[0]:
            best = (worst, pad)
    return layout, best[1]


def plan_promotion(scop, kernel, mark_node, *, shared="auto", registers=True,
                   smem_budget=48 * 1024, vector=None) -> Promotion:
    """What to promote in one parallel kernel (see the module text)."""
    from .gpu_mapping import mapped_point_map
    notes = []
    dom = mark_node.get_domain()
    tile_band = mark_node.child(0)
    point = tile_band.child(0)
    pmupa = point.band_get_partial_schedule()
    point_members = [pmupa.get_at(kernel.n_inner + d) for d in range(kernel.n_mapped)]
    inner_loops = kernel.n_inner > 0 or point.child(0).get_type() != isl.schedule_node_type.leaf
    regs = []
    if registers and inner_loops:
        for name, arr in scop.arrays.items():
            if not arr.shape:
                continue
            rt = _register_tile(scop, kernel, dom, name, point_members)
            if rt is not None:
                regs.append(rt)
                notes.append(f"kernel {kernel.index}: {name} in registers "
                             f"({'x'.join(str(kernel.per_thread[j]) for j in rt.mapped)} "
                             "per thread)")
    kernel.vector = vector_widths(scop, kernel, regs, vector)
    if any(v > 1 for v in kernel.vector):
        notes.append(f"kernel {kernel.index}: {'x'.join(map(str, kernel.vector))} "
                     "consecutive points per thread")
    bufs = []
    if shared:
        prefix = point.get_prefix_schedule_union_map().intersect_domain(dom)
        same_prefix = prefix.apply_range(prefix.reverse())
        thread = mapped_point_map(mark_node, kernel)
        same_thread = thread.apply_range(thread.reverse())
        in_regs = {r.array for r in regs}
        written = {a.array for s in scop.statements for a in s.writes()
                   if not _umap(a.relation).intersect_domain(dom).is_empty()}
        used = 0
        for name, arr in scop.arrays.items():
            if not arr.shape or name in in_regs or name in written:
                continue
            reads = isl.UnionMap.empty(dom.get_space())
            rels = [rel for _, _, rel in _kernel_accesses(scop, dom, name, "read")]
            for rel in rels:
                reads = reads.union(isl.UnionMap.from_map(rel))
            if reads.is_empty():
                continue
            if shared == "auto" and not (kernel.n_inner > 0 and _reuse_across_threads(
                    reads, same_prefix, same_thread)):
                continue
            foot = prefix.reverse().apply_range(reads)
            box = box_hull(isl.Map.from_union_map(foot))
            if box is None or box.volume <= 0:
                notes.append(f"kernel {kernel.index}: {name} not in shared memory (no "
                             "fixed-size box)")
                continue
            buf = SharedBuffer(name, list(box.offset), list(box.sizes))
            if any(v > 1 for v in kernel.vector):
                buf.layout, buf.pad = _layout(rels, kernel, point_members, buf.sizes,
                                              arr.dtype.np.itemsize)
            nbytes = math.prod(buf.shape) * arr.dtype.np.itemsize
            if used + nbytes > smem_budget:
                notes.append(f"kernel {kernel.index}: {name} not in shared memory "
                             f"({nbytes} bytes do not fit)")
                continue
            used += nbytes
            bufs.append(buf)
            notes.append(f"kernel {kernel.index}: {name} in shared memory "
                         f"[{']['.join(map(str, buf.shape))}]"
                         + (" (transposed)" if buf.layout != tuple(range(len(buf.sizes)))
                            else ""))
    return Promotion(bufs, regs, notes)
