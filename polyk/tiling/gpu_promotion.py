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

from dataclasses import dataclass

import islpy as isl

from .footprint import box_hull

MAX_REGISTERS_PER_ARRAY = 64


@dataclass
class SharedBuffer:
    array: str
    offsets: list          # isl.Aff per dimension, over the copy-level schedule prefix
    sizes: list            # int per dimension

    @property
    def volume(self) -> int:
        out = 1
        for s in self.sizes:
            out *= s
        return out


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
        sdom = rel.domain()
        got_m, got_k = [], []
        for d in range(rank):
            ed = rel.project_out(isl.dim_type.out, d + 1, rank - d - 1) \
                .project_out(isl.dim_type.out, 0, d).reset_tuple_id(isl.dim_type.out)
            found = None
            for j, upa in enumerate(point_members):
                pj = isl.UnionMap.from_union_pw_aff(upa).intersect_domain(
                    isl.UnionSet.from_set(sdom))
                if pj.is_empty():
                    continue
                pj = isl.Map.from_union_map(pj).reset_tuple_id(isl.dim_type.out)
                k = _single_value(ed.sum(pj.neg()))
                if k is not None:
                    found = (j, k)
                    break
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


def plan_promotion(scop, kernel, mark_node, *, shared="auto", registers=True,
                   smem_budget=48 * 1024) -> Promotion:
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
            for s, a, rel in _kernel_accesses(scop, dom, name, "read"):
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
            nbytes = buf.volume * arr.dtype.np.itemsize
            if used + nbytes > smem_budget:
                notes.append(f"kernel {kernel.index}: {name} not in shared memory "
                             f"({nbytes} bytes do not fit)")
                continue
            used += nbytes
            bufs.append(buf)
            notes.append(f"kernel {kernel.index}: {name} in shared memory "
                         f"[{']['.join(map(str, buf.sizes))}]")
    return Promotion(bufs, regs, notes)
