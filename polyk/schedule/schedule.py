"""The Schedule value: an isl schedule tree plus how it was found."""

from __future__ import annotations

from dataclasses import dataclass, field

import islpy as isl

# The mark above a band whose first member the C printer makes an OpenMP parallel loop.
# Its name carries the schedule depth of that member ("polyk_omp_parallel@2"): isl names
# the loop of schedule dimension d "c<d>", and where the member is a single value in part
# of the domain, the AST below the mark starts with deeper loops that must not get it.
PARALLEL_MARK = "polyk_omp_parallel"


# Further depths after the first ("polyk_omp_parallel@0,2") name deeper parallel members of
# the same band, which take the pragma where the loop of the first is a single value (the
# partial tile at the edge of a tiled band: one tile row, whose tile columns are parallel).


def parallel_mark(depth: int, fallbacks=()) -> str:
    return f"{PARALLEL_MARK}@" + ",".join(str(d) for d in (depth, *fallbacks))


def parallel_mark_depths(name: str) -> list[int] | None:
    """The schedule depths a parallel mark names, first the loop that gets the pragma
    ([-1] for a bare mark, which the checker checks and the printer ignores), or None for
    another mark."""
    if name.startswith(PARALLEL_MARK + "@"):
        return [int(d) for d in name.split("@", 1)[1].split(",")]
    return [-1] if name == PARALLEL_MARK else None


def parallel_mark_depth(name: str) -> int | None:
    """The first schedule depth a parallel mark names (see parallel_mark_depths)."""
    depths = parallel_mark_depths(name)
    return None if depths is None else depths[0]
# The mark above a one-member band whose loop the C printer marks ``#pragma omp simd`` (or
# ``#pragma GCC ivdep``): the innermost loop of a tile, parallel, with stride-1 or invariant
# accesses. The checker treats it as a parallel mark ("polyk_simd@3").
SIMD_MARK = "polyk_simd"


def simd_mark(depth: int) -> str:
    return f"{SIMD_MARK}@{depth}"


def simd_mark_depth(name: str) -> int | None:
    """The schedule depth a simd mark names (-1 for a bare mark), or None."""
    if name.startswith(SIMD_MARK + "@"):
        return int(name.split("@", 1)[1])
    return -1 if name == SIMD_MARK else None


# The mark above the point band of a tiled band; its name carries the tile sizes
# ("polyk_point 32x32x32"), which full/partial tile separation needs.
POINT_MARK = "polyk_point "


# The mark above a sequence that Pluto introduced by cutting the dependence graph; the text
# after the prefix says why.
CUT_MARK = "polyk_cut: "


def multi_union_pw_aff(upas) -> isl.MultiUnionPwAff:
    """The band partial schedule whose members are the union piecewise affine ``upas``."""
    lst = isl.UnionPwAffList.alloc(upas[0].get_ctx(), len(upas))
    for u in upas:
        lst = lst.add(u)
    space = isl.Space.set_alloc(upas[0].get_ctx(), 0, len(upas)).align_params(
        upas[0].get_space())
    return isl.MultiUnionPwAff.from_union_pw_aff_list(space, lst)


def replace_band(node: isl.ScheduleNode, mupa: isl.MultiUnionPwAff, permutable: bool,
                 coincident=()) -> isl.ScheduleNode:
    """Band ``node`` replaced by one with partial schedule ``mupa`` (the new band node)."""
    node = node.delete().insert_partial_schedule(mupa)
    node = node.band_set_permutable(int(permutable))
    for j, c in enumerate(coincident):
        node = node.band_member_set_coincident(j, int(c))
    return node


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


@dataclass(frozen=True)
class Schedule:
    """An isl schedule tree (bands, sequences, filters, marks) and its provenance."""

    tree: isl.Schedule
    scheduler: str = "identity"
    notes: tuple[str, ...] = field(default=())
    pluto: object = field(default=None, repr=False)   # PlutoResult when Pluto made it

    def get_map(self) -> isl.UnionMap:
        """Statement instance -> time stamp, flattened."""
        return self.tree.get_map()

    def __repr__(self) -> str:
        lines = [f"Schedule ({self.scheduler})"]
        lines += [f"  {n}" for n in self.notes]
        lines.append(_indent(str(self.tree.get_root()), "  "))
        return "\n".join(lines)


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + ln for ln in text.splitlines())


def identity_schedule(scop) -> Schedule:
    """The original execution order of the program, unchanged."""
    return Schedule(scop.schedule, "identity", ("the loop nest as written",))
