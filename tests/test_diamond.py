"""Diamond tiling with concurrent start: the hyperplanes it finds, the width of the first
wavefront of tiles, refusals, and diamond-tiled stencils computing exactly what the
untransformed ones compute."""

from __future__ import annotations

import itertools
import re

import islpy as isl
import numpy as np
import pytest
from conftest import copy_args, free_params
from polyk.kernels import LIBRARY

import polyk
from polyk.schedule import check_schedule
from polyk.schedule.schedule import PARALLEL_MARK, parallel_mark_depth
from polyk.tiling.diamond import DiamondPlan, diamond_tile, plan_band
from polyk.tiling.intratile import band_rows_of
from polyk.tiling.rectangular import band_paths, node_at

STENCILS = ["jacobi-1d", "jacobi-2d", "heat-3d", "fdtd-2d"]


def _outer_band(kernel):
    tree = kernel.schedule.tree
    return node_at(tree, band_paths(tree)[0])


def _first_wavefront_width(kernel) -> tuple[int, int]:
    """(tiles that can run in parallel at the first step of the tile schedule, total tiles
    at that step): the tiles whose outer (sequential) wavefront coordinate is minimal,
    counted as distinct values of the loop marked ``omp parallel for`` below it, and as
    distinct tile-coordinate points of the whole tile band."""
    marks = []

    def find(node):
        if node.get_type() == isl.schedule_node_type.mark and \
                node.mark_get_id().get_name().startswith(PARALLEL_MARK):
            marks.append(node)
            return
        for k in range(node.n_children()):
            find(node.child(k))

    find(kernel.schedule.tree.get_root())
    assert marks, "no parallel loop in the tiled stencil"
    band = marks[0].child(0)                  # the tile band, in one piece
    j = parallel_mark_depth(marks[0].mark_get_id().get_name()) - band.get_schedule_depth()
    assert j == 1     # the member after the one sequential wavefront loop
    member = band.band_get_partial_schedule()
    wave = isl.UnionMap.from_union_pw_aff(member.get_at(0))
    prefix = band.get_prefix_schedule_union_map().flat_range_product(wave)
    par = isl.UnionMap.from_union_pw_aff(member.get_at(j))
    tiles = band.band_get_partial_schedule_union_map()
    counts = []
    for m in (prefix.flat_range_product(par), prefix.flat_range_product(tiles)):
        pts = isl.Set.from_union_set(m.intersect_domain(band.get_domain()).range())
        first = pts.project_out(isl.dim_type.set, 1, pts.dim(isl.dim_type.set) - 1)
        wmin = first.lexmin().sample_point().get_coordinate_val(isl.dim_type.set, 0)
        at = pts.fix_val(isl.dim_type.set, 0, wmin)
        seen = []
        at.foreach_point(seen.append)
        counts.append(len(seen))
    return counts[0], counts[1]


def _stencil(name, n, diamond, tile):
    steps = 4 * tile[0]          # several time tiles, so the tile band needs a wavefront
    sizes = {"N": n, "TSTEPS": steps}
    return polyk.generate(LIBRARY[name].op, target="openmp", tile=tile, diamond=diamond,
                          sizes=sizes, compile=False)


# ----------------------------------------------------------------------- structure
@pytest.mark.parametrize("name,tile,n0", [("jacobi-1d", (8, 8), 64),
                                          ("jacobi-2d", (4, 4, 4), 16)])
def test_first_wavefront_grows_with_the_space_size(name, tile, n0):
    """Concurrent start: the tiles of the first wavefront grow linearly with N under
    diamond tiling; a skewed (pipelined) tiling starts with one tile whatever N is."""
    sizes = (n0, 2 * n0, 4 * n0)
    dia = [_first_wavefront_width(_stencil(name, n, True, tile)) for n in sizes]
    rect = [_first_wavefront_width(_stencil(name, n, False, tile)) for n in sizes]
    par = [p for p, _ in dia]
    assert par[0] >= 3
    for a, b in itertools.pairwise(par):
        assert 1.7 * a <= b <= 2.3 * a + 1, par      # doubles with N
    assert [p for p, _ in rect] == [1, 1, 1], rect
    if name == "jacobi-1d":                            # every tile of the step is parallel
        assert [t for _, t in dia] == par


def test_diamond_hyperplane_puts_the_time_face_inside_the_tile_cone():
    """jacobi-1d's band (t, 2t + i): t gives way to 2t - i for the tile loops; the face t
    is strictly inside the cone of the first two tile hyperplanes (their sum is 4t)."""
    k = polyk.generate(LIBRARY["jacobi-1d"].op, target="openmp", compile=False)
    node = _outer_band(k)
    deps = k.dependences.all()
    plan = plan_band(node, 0, k.scop, deps)
    assert isinstance(plan, DiamondPlan), plan
    assert plan.face == 0 and plan.order[0] == -1
    rows = band_rows_of(node, k.scop)
    for s, (coeffs, _) in plan.hyperplane.items():
        partner = rows[s][plan.partner]
        total = [a + b for a, b in zip(coeffs, partner)]
        assert total[0] > 0 and not any(total[1:]), (s, coeffs, partner)
        assert coeffs[1] < 0                           # the backward face of the diamond
    assert plan.hyperplane["S0"][0] == (2, -1)


def test_fdtd_diamonds_go_along_the_outer_space_loop():
    """fdtd-2d's band (t, t + j, t + i): the diamond pairs t with i, so the innermost loop
    j stays a long, unskewed tile member."""
    k = polyk.generate(LIBRARY["fdtd-2d"].op, target="openmp", compile=False)
    plan = plan_band(_outer_band(k), 0, k.scop, k.dependences.all())
    assert isinstance(plan, DiamondPlan), plan
    t, i, j = plan.hyperplane["S3"][0]          # S3 = hz update, iterators (t, i, j)
    assert t > 0 and i < 0 and j == 0, plan.hyperplane


def _diamond_applied(kernel) -> bool:
    return any(re.match(r"b\d+ diamond-tiled", n) for n in kernel.schedule.notes)


def test_explain_names_the_diamond_and_seidel_is_left_alone_with_a_reason():
    k = polyk.generate(LIBRARY["jacobi-1d"].op, target="openmp", tile=True, compile=False)
    assert _diamond_applied(k)
    # tile=True: the diamond defaults (256 x 256 for a one-dimensional stencil)
    assert "b0 diamond-tiled 256x256 (concurrent start along t)" in str(polyk.explain(k))
    # seidel's dependences inside one time step (A[i][j-1] -> A[i][j]) leave no face that
    # carries them all: "auto" keeps rectangular tiles and says why
    k = polyk.generate(LIBRARY["seidel-2d"].op, target="openmp", tile=True, compile=False)
    assert not _diamond_applied(k)
    why = [n for n in k.schedule.notes if "not diamond-tiled" in n]
    assert why and "carries every dependence" in why[0]
    assert any(n.startswith("b0 tiled") for n in k.schedule.notes)   # rectangular instead
    assert "not diamond-tiled" in str(polyk.explain(k))


def test_untiled_and_non_stencil_schedules_are_unchanged():
    for name in ("gemm", "jacobi-1d"):
        a = polyk.generate(LIBRARY[name].op, target="openmp", tile=False, compile=False)
        b = polyk.generate(LIBRARY[name].op, target="openmp", tile=False, diamond=False,
                           compile=False)
        assert a.source == b.source
    a = polyk.generate(LIBRARY["gemm"].op, target="openmp", tile=True, compile=False)
    b = polyk.generate(LIBRARY["gemm"].op, target="openmp", tile=True, diamond=False,
                       compile=False)
    assert a.source == b.source
    assert not any("diamond" in n for n in a.schedule.notes)


def test_checker_refuses_a_diamond_that_ignores_the_time_scaling():
    """Planted: t - i instead of 2t - i + shift for the tile loops of jacobi-1d. The
    checker must refuse it (the ILP's legality rows are what rule it out)."""
    base = polyk.generate(LIBRARY["jacobi-1d"].op, compile=False, tile=False)
    node = _outer_band(base)
    plan = plan_band(node, 0, base.scop, base.dependences.all())
    assert isinstance(plan, DiamondPlan)
    good = diamond_tile(node, plan, base.scop, (4, 4)).get_schedule()
    check_schedule(base.scop, good)
    bad_plan = DiamondPlan(0, plan.face, plan.replaced, plan.partner,
                           {s: ((1, -1), 0) for s in plan.hyperplane}, plan.order)
    bad = diamond_tile(node, bad_plan, base.scop, (4, 4)).get_schedule()
    with pytest.raises(polyk.ScheduleError):
        check_schedule(base.scop, bad)


# ----------------------------------------------------------------------- options
@pytest.mark.parametrize("bad", ["yes", 1.5, None, "on"])
def test_bad_diamond_option_is_refused(bad):
    with pytest.raises(polyk.OptionsError, match="diamond"):
        polyk.Options(diamond=bad, tile=True)


def test_diamond_required_needs_tiling():
    with pytest.raises(polyk.OptionsError, match="diamond=True needs tile"):
        polyk.Options(diamond=True)


@pytest.mark.parametrize("name,why", [("gemm", "parallel loop"),
                                      ("seidel-2d", "carries every dependence")])
def test_diamond_required_where_it_cannot_apply_says_why(name, why):
    with pytest.raises(polyk.ScheduleError, match=why):
        polyk.generate(LIBRARY[name].op, tile=True, diamond=True, compile=False)


# ----------------------------------------------------------------------- results
def _cases():
    """Tile sizes that divide the test sizes, that do not, and 1; serial and OpenMP. CI
    runs one case per line; the rest is slow."""
    sizes = {"jacobi-1d": [(8, 8), (5, 5), (1, 1), True, (6, 4)],
             "jacobi-2d": [(8, 8, 8), (5, 5, 5), (1, 1, 1), True, (6, 4, 4)],
             "heat-3d": [(4, 4, 4, 4), (5, 5, 5, 5), (1, 1, 1, 1), True, (6, 4, 4, 4)],
             "fdtd-2d": [(8, 8, 8), (5, 5, 5), (1, 1, 1), True, (6, 4, 4)],
             "seidel-2d": [(8, 8, 8), (5, 5, 5), (1, 1, 1), True]}
    ci = {("jacobi-1d", 1, "openmp"), ("jacobi-1d", 2, "c"), ("jacobi-2d", 1, "openmp"),
          ("jacobi-2d", 4, "c"), ("heat-3d", 1, "openmp"), ("fdtd-2d", 1, "openmp"),
          ("fdtd-2d", 4, "c"), ("seidel-2d", 1, "openmp")}
    out = []
    for name, tiles in sizes.items():
        for i, tile in enumerate(tiles):
            for target in ("c", "openmp"):
                marks = () if (name, i, target) in ci else (pytest.mark.slow,)
                out.append(pytest.param(name, tile, target, marks=marks,
                                        id=f"{name}-{tile}-{target}"))
    return out


@pytest.fixture(scope="module")
def baselines():
    return {}


@pytest.mark.parametrize("name,tile,target", _cases())
def test_diamond_tiled_stencils_bitwise_equal_to_untransformed(baselines, name, tile, target):
    spec = LIBRARY[name]
    sz = spec.sizes["test"]
    extra = {p: sz[p] for p in free_params(spec.op)}
    inp = spec.op.make_inputs(sz, seed=5)
    if name not in baselines:
        base = polyk.generate(spec.op, scheduler="identity", fp_contract=False)
        out = copy_args(inp)
        base(**out, **extra)
        baselines[name] = out
    k = polyk.generate(spec.op, target=target, tile=tile, fp_contract=False)
    assert _diamond_applied(k) == (name != "seidel-2d"), k.schedule.notes
    check_schedule(k.scop, k.schedule)
    got = copy_args(inp)
    with polyk.openmp_threads(2):
        k(**got, **extra)
    for a in spec.op.args:
        if a.is_array:
            np.testing.assert_array_equal(got[a.name], baselines[name][a.name],
                                          err_msg=f"{a.name} with tile={tile} {target}")


def test_l2_tiling_leaves_diamond_tiles_at_one_level():
    """l2_tile with diamond tiles: one level (noted), still bitwise the untransformed."""
    spec = LIBRARY["jacobi-2d"]
    sz = spec.sizes["test"]
    inp = spec.op.make_inputs(sz, seed=5)
    base = polyk.generate(spec.op, scheduler="identity", fp_contract=False)
    want = copy_args(inp)
    base(**want, TSTEPS=sz["TSTEPS"])
    k = polyk.generate(spec.op, target="openmp", tile=True, l2_tile=True, fp_contract=False)
    assert _diamond_applied(k) and "b0: no L2 level on diamond tiles" in k.schedule.notes
    got = copy_args(inp)
    with polyk.openmp_threads(2):
        k(**got, TSTEPS=sz["TSTEPS"])
    np.testing.assert_array_equal(got["A"], want["A"])
    np.testing.assert_array_equal(got["B"], want["B"])
