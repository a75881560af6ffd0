"""Mapping a schedule tree onto a CUDA grid, PPCG-style.

Walking the tree from the root:

- a band with a parallel (coincident) member becomes a kernel: its leading coincident
  members (at most 3) are *mapped*; the band is tiled; the tile loops of the mapped members
  run one per block (``blockIdx``), their point loops one per thread (``threadIdx``, each
  thread taking the points ``tile start + threadIdx + k * threads`` of its tile, so
  neighbouring threads touch neighbouring elements); the band's other members stay loops
  inside the kernel, tiled too, with their point loops moved outside the mapped point loops
  (legal in a permutable band) so a thread's work for one value of them sits in registers;
- a band without a parallel member stays on the host as a loop around the kernels below it
  (a stencil's time loop), unless nothing below it is parallel: then the whole subtree is a
  one-thread kernel (``serial``);
- a fully parallel band whose only child is another band is merged with it first (the
  merged band is permutable: the first carries nothing), so a matrix product's reduction
  loop can be tiled with its parallel loops.

The result is checked twice: the whole tree by ``check_schedule`` (the order), and each
kernel by ``check_gpu_mapping``: two instances in one launch that conflict (same element,
one a write) must run on the same thread, i.e. have the same values of every mapped member;
a scalar written in a parallel kernel must be private to a thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import islpy as isl

from ..errors import ScheduleError
from ..schedule.schedule import multi_union_pw_aff, replace_band

KERNEL_MARK = "polyk_kernel@"
MAX_MAPPED = 3


@dataclass
class GpuKernel:
    """One kernel launch site: where it sits in the schedule and how it is mapped."""

    index: int
    serial: bool                       # a single thread runs the subtree
    host_depth: int                    # schedule dimensions on the host around the launch
    tile: tuple = ()                   # tile sizes of the mapped members, outer to inner
    threads: tuple = ()                # threads per mapped member
    inner_tile: int = 0                # tile size of the band's other members
    n_inner: int = 0                   # how many other members were tiled with the band
    notes: list = field(default_factory=list)
    vector: tuple = ()                 # per mapped member: consecutive points a thread owns

    def point_offset(self, d: int, r: str) -> str:
        """C expression of the position in its tile of the point ``r`` (0 .. per_thread - 1)
        of this thread in mapped member ``d``: ``threadIdx + r * threads`` (neighbouring
        threads on neighbouring points), or with a vector width ``V`` > 1, groups of ``V``
        consecutive points per thread (``V * threadIdx + r % V + (r / V) * V * threads``),
        so a thread's elements can move in one vector load."""
        v = self.vector[d] if self.vector else 1
        if v == 1:
            return f"polyk_t{d} + {self.threads[d]} * {r}"
        return f"{v} * polyk_t{d} + {r} % {v} + ({r} / {v}) * {v * self.threads[d]}"

    @property
    def mark(self) -> str:
        return f"{KERNEL_MARK}{self.index}"

    @property
    def n_mapped(self) -> int:
        return len(self.tile)

    @property
    def tile_depths(self) -> tuple:
        return tuple(self.host_depth + d for d in range(self.n_mapped))

    @property
    def point_depths(self) -> tuple:
        base = self.host_depth + self.n_mapped + 2 * self.n_inner
        return tuple(base + d for d in range(self.n_mapped))

    @property
    def inner_point_depths(self) -> tuple:
        """The point loops of the band's other (sequential) members, outer to inner; the
        ``d``-th has the tile loop at ``host_depth + n_mapped + d``."""
        base = self.host_depth + self.n_mapped + self.n_inner
        return tuple(base + d for d in range(self.n_inner))

    @property
    def copy_depth(self) -> int:
        """The loop whose body gets the shared-memory copies (innermost tile loop)."""
        return self.host_depth + self.n_mapped + self.n_inner - 1

    @property
    def register_depth(self) -> int:
        """The loop whose body loads and stores register tiles (innermost block loop)."""
        return self.host_depth + self.n_mapped - 1

    @property
    def per_thread(self) -> tuple:
        return tuple(t // n for t, n in zip(self.tile, self.threads))

    @property
    def n_threads(self) -> int:
        out = 1
        for n in self.threads:
            out *= n
        return out


def kernel_index(mark_name: str) -> int | None:
    if mark_name.startswith(KERNEL_MARK):
        return int(mark_name[len(KERNEL_MARK):])
    return None


def _coincident(node) -> list[bool]:
    return [bool(node.band_member_get_coincident(j)) for j in range(node.band_n_member())]


def _has_parallel(node) -> bool:
    found = []

    def visit(n):
        if n.get_type() == isl.schedule_node_type.band and any(_coincident(n)):
            found.append(True)
            return False
        return not found

    node.foreach_descendant_top_down(visit)
    return bool(found)


def _members(node, order) -> isl.MultiUnionPwAff:
    mupa = node.band_get_partial_schedule()
    upas = [mupa.get_at(j) for j in order]
    return multi_union_pw_aff(upas)


class GpuMapper:
    """Turns a checked schedule tree into one with kernel marks (see the module text)."""

    def __init__(self, deps, scalars, choose):
        self.deps = deps              # array dependences, for coincidence after reordering
        self.scalars = scalars        # scalar flows (split_for_coincidence)
        self.choose = choose          # (n_mapped, n_inner, node) -> (tile, threads, inner)
        self.kernels: list[GpuKernel] = []

    def run(self, sched: isl.Schedule) -> isl.Schedule:
        node = self._walk(sched.get_root())
        return node.get_schedule()

    # -- the walk: returns the node at the same position, possibly replaced
    def _walk(self, node):
        t = node.get_type()
        if t == isl.schedule_node_type.band:
            if any(_coincident(node)):
                return self._kernel(node)
            if not _has_parallel(node):
                return self._serial(node)
            return self._children(node)
        if t == isl.schedule_node_type.leaf:
            return self._serial(node)
        if t == isl.schedule_node_type.mark and kernel_index(
                node.mark_get_id().get_name()) is not None:
            return node
        if t in (isl.schedule_node_type.sequence, isl.schedule_node_type.set) \
                and not _has_parallel(node):
            return self._serial(node)
        return self._children(node)

    def _children(self, node):
        for k in range(node.n_children()):
            node = self._walk(node.child(k)).parent()
        return node

    def _serial(self, node):
        k = GpuKernel(len(self.kernels), True, node.get_schedule_depth())
        self.kernels.append(k)
        return node.insert_mark(isl.Id(k.mark))

    def _kernel(self, node):
        from ..schedule.parallel import band_coincidence
        n = node.band_n_member()
        perm = bool(node.band_get_permutable())
        coin = _coincident(node)
        notes = []
        if perm and not coin[0]:
            order = [j for j in range(n) if coin[j]] + [j for j in range(n) if not coin[j]]
            trial = replace_band(node, _members(node, order), True)
            new = band_coincidence(trial, self.deps, self.scalars)
            if new[0]:
                node = trial
                for j, c in enumerate(new):
                    node = node.band_member_set_coincident(j, int(c))
                coin = new
                notes.append("parallel members moved outermost in the band")
        if not coin[0]:
            first = coin.index(True)
            node = node.band_split(first).child(0)
            n, coin = node.band_n_member(), coin[first:]
            perm = bool(node.band_get_permutable())
        if all(coin) and node.n_children() == 1 and \
                node.child(0).get_type() == isl.schedule_node_type.band and \
                node.child(0).band_get_permutable():
            # a parallel band over a permutable band: one permutable band
            inner = node.child(0)
            ni = inner.band_n_member()
            icoin = _coincident(inner)
            both = node.band_get_partial_schedule().flat_range_product(
                inner.band_get_partial_schedule())
            node = inner.delete().parent()
            node = replace_band(node, both, True)
            coin = coin + icoin
            for j, c in enumerate(coin):
                node = node.band_member_set_coincident(j, int(c))
            n, perm = n + ni, True
            notes.append("merged with the band below it")
        m = 0
        while m < min(n, MAX_MAPPED) and coin[m]:
            m += 1
        if m < n and not perm:
            node = node.band_split(m)
        n_inner = (n - m) if perm else 0
        tile, threads, inner = self.choose(m, n_inner, node)
        mupa = node.band_get_partial_schedule()
        sizes = list(tile) + [inner] * n_inner
        tiles, points = [], []
        for j in range(m + n_inner):
            u = mupa.get_at(j)
            tiles.append(u.scale_down_val(isl.Val(str(sizes[j]))).floor())
            points.append(u)
        points = points[m:] + points[:m]
        depth = node.get_schedule_depth()
        node = node.delete()
        node = node.insert_partial_schedule(multi_union_pw_aff(points))
        node = node.band_set_permutable(1)
        node = node.insert_partial_schedule(multi_union_pw_aff(tiles))
        node = node.band_set_permutable(1)
        k = GpuKernel(len(self.kernels), False, depth, tuple(tile), tuple(threads), inner,
                      n_inner, notes)
        self.kernels.append(k)
        return node.insert_mark(isl.Id(k.mark))


def find_kernel_nodes(sched: isl.Schedule) -> dict:
    """Kernel index -> its mark node."""
    out = {}

    def visit(n):
        if n.get_type() == isl.schedule_node_type.mark:
            idx = kernel_index(n.mark_get_id().get_name())
            if idx is not None:
                out[idx] = n
                return
        for k in range(n.n_children()):
            visit(n.child(k))

    visit(sched.get_root())
    return out


def mapped_point_map(mark_node, kernel: GpuKernel) -> isl.UnionMap:
    """Instance -> values of the mapped point members (the thread coordinates)."""
    point = mark_node.child(0).child(0)
    mupa = point.band_get_partial_schedule()
    upas = [mupa.get_at(kernel.n_inner + d) for d in range(kernel.n_mapped)]
    return isl.UnionMap.from_multi_union_pw_aff(multi_union_pw_aff(upas))


def check_gpu_mapping(scop, sched: isl.Schedule, kernels) -> list[tuple[int, str]]:
    """Problems of the mapping, as (kernel index, message); empty when every parallel kernel
    is race-free: conflicting instances of one launch run on one thread, and scalars written
    in a parallel kernel are private to its threads."""
    from ..schedule.legality import _accesses, _describe, _memory_conflicts, _names, \
        _scalar_flow
    arrays, scalars = _names(scop)
    conflicts = _memory_conflicts(scop, set(arrays))
    conflicts = conflicts.union(conflicts.reverse())
    flows = {s: _scalar_flow(scop, s) for s in scalars}
    nodes = find_kernel_nodes(sched)
    problems = []
    for k in kernels:
        if k.serial:
            continue
        node = nodes[k.index]
        dom = node.get_domain()
        prefix = node.get_prefix_schedule_union_map()
        same_launch = prefix.apply_range(prefix.reverse())
        thread = mapped_point_map(node, k)
        same_thread = thread.apply_range(thread.reverse())
        pairs = conflicts.intersect_domain(dom).intersect_range(dom).intersect(same_launch)
        bad = pairs.subtract(same_thread)
        if not bad.is_empty():
            problems.append((k.index, _describe(scop, bad, f"kernel {k.index}: two threads "
                                                "of one launch conflict")))
            continue
        for name, (flow, no_source) in flows.items():
            if _accesses(scop, "write", {name}).domain().intersect(dom).is_empty():
                continue
            touched = _accesses(scop, "read", {name}).union(_accesses(scop, "write", {name}))
            if not no_source.intersect(touched.domain().intersect(dom)).is_empty():
                problems.append((k.index, f"kernel {k.index}: scalar {name} is written by "
                                 "its threads but reads a value from before the kernel"))
                break
            crossing = flow.intersect_domain(dom).subtract(flow.intersect_range(dom)).union(
                flow.intersect_range(dom).subtract(flow.intersect_domain(dom)))
            if not crossing.is_empty():
                problems.append((k.index, f"kernel {k.index}: scalar {name} is written by "
                                 "its threads and its value flows into or out of the kernel"))
                break
            inside = flow.intersect_domain(dom).intersect_range(dom).intersect(same_launch)
            if not inside.subtract(same_thread).is_empty():
                problems.append((k.index, f"kernel {k.index}: scalar {name} carries a value "
                                 "from one thread to another"))
                break
    return problems


def make_serial(sched: isl.Schedule, kernels, index: int) -> isl.Schedule:
    """Turn kernel ``index`` into a one-thread kernel (its tiled loops stay, run in order)."""
    node = find_kernel_nodes(sched)[index]
    k = kernels[index]
    kernels[index] = GpuKernel(k.index, True, k.host_depth,
                               notes=k.notes + ["run by one thread: the mapping was refused"])
    return node.get_schedule()


def check_or_serialise(scop, sched, kernels) -> tuple[isl.Schedule, list[str]]:
    """Check every parallel kernel; one that fails runs on one thread (noted), so no race
    reaches the generated code."""
    notes = []
    for idx, msg in check_gpu_mapping(scop, sched, kernels):
        sched = make_serial(sched, kernels, idx)
        notes.append(msg + "; that kernel runs on one thread")
    if notes and check_gpu_mapping(scop, sched, kernels):
        raise ScheduleError("GPU mapping still refused after serialising kernels")
    return sched, notes


# Default tiles by rule, innermost member last. A kernel whose band keeps sequential
# members inside (reuse: a reduction or a time loop inside the tile) gets larger tiles and
# several points per thread in each mapped member (a register tile); a kernel without them
# is memory-bound: one or two points per thread, 256 threads, the innermost member on 32
# consecutive threads for coalescing.
_REUSE = {1: ((128,), (128,)), 2: ((128, 128), (16, 16)), 3: ((4, 64, 64), (1, 16, 16))}
_STREAM = {1: ((256,), (256,)), 2: ((16, 32), (8, 32)), 3: ((2, 8, 32), (1, 8, 32))}


def default_mapping(opts, m: int, n_inner: int, node=None) -> tuple:
    """(tile sizes, threads, inner tile size) of a kernel mapping ``m`` members with
    ``n_inner`` sequential members tiled along, from the options or the rule above."""
    tile, threads = (_REUSE if n_inner else _STREAM)[m]
    given_t = opts.gpu_tile[-m:] if opts.gpu_tile else ()
    given_n = opts.gpu_threads[-m:] if opts.gpu_threads else ()
    tile = tile[:m - len(given_t)] + tuple(given_t)
    threads = list(threads[:m - len(given_n)] + tuple(given_n))
    for d in range(m):
        if tile[d] % threads[d]:
            threads[d] = math.gcd(tile[d], threads[d])
    while math.prod(threads) > 1024:
        d = max(range(m), key=lambda j: threads[j])
        threads[d] //= 2
        if tile[d] % threads[d]:
            threads[d] = math.gcd(tile[d], threads[d])
    return tuple(tile), tuple(threads), opts.gpu_inner_tile
