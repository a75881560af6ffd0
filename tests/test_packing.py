"""Footprints (boxes from access relations) and packing of tiles into local buffers."""

from __future__ import annotations

import random
import re

import islpy as isl
import numpy as np
import pytest

import polyk
from polyk import f32, f64
from polyk.kernels import LIBRARY
from polyk.schedule.schedule import POINT_MARK
from polyk.tiling.footprint import access_footprints, aff_to_c, box_hull
from polyk.tiling.packing import PACK_MARK

from conftest import copy_args, free_params

N, M = polyk.params("N M")


def _bitwise(op, inp, extra, **opts):
    base = polyk.generate(op, scheduler="identity", fp_contract=False)
    want = copy_args(inp)
    base(**want, **extra)
    k = polyk.generate(op, fp_contract=False, **opts)
    got = copy_args(inp)
    with polyk.openmp_threads(2):
        k(**got, **extra)
    for a in op.args:
        if a.is_array:
            np.testing.assert_array_equal(got[a.name], want[a.name],
                                          err_msg=f"{a.name} with {opts}")
    return k


def _marks(tree, prefix):
    out = []

    def visit(n):
        if n.get_type() == isl.schedule_node_type.mark and \
                n.mark_get_id().get_name().startswith(prefix):
            out.append(n.mark_get_id().get_name())
        return True

    tree.get_root().foreach_descendant_top_down(visit)
    return out


# ------------------------------------------------------------------ boxes

def test_box_of_a_tile_and_a_stencil_halo():
    rel = isl.Map("[N] -> { [t0, t1] -> A[a, b] : t0 <= a < t0 + 32 and t1 - 1 <= b <= t1 + 32"
                  " and 0 <= a < N and 0 <= b < N }")
    box = box_hull(rel)
    assert box.sizes == (32, 34)
    assert box.offset_c(["c0", "c1"]) == ["(c0)", "(c1 - 1)"]
    assert box.volume == 32 * 34


def test_box_of_a_triangle_and_of_an_unbounded_footprint():
    tri = isl.Map("{ [t] -> A[a, b] : t <= a < t + 8 and 0 <= b <= a - t }")
    assert box_hull(tri).sizes == (8, 8)
    assert box_hull(isl.Map("[N] -> { [t] -> A[a] : 0 <= a < N }")) is None
    assert box_hull(isl.Map("{ [t] -> A[a] : false }")) is None


def test_aff_to_c_signs_and_parameters():
    aff = isl.Aff("[N] -> { [x, y] -> [(2*x - y + N - 3)] }")
    assert aff_to_c(aff, ["p", "q"]) == "(2 * p - q + N - 3)"
    assert aff_to_c(isl.Aff("{ [x] -> [(0)] }"), ["p"]) == "(0)"


def test_gemm_tile_footprints_are_the_tiles():
    k = polyk.generate(LIBRARY["gemm"].op, tile={1: (16, 32, 64)}, compile=False,
                       unroll_jam=False, pack=False)
    found = {}

    def visit(n):
        if n.get_type() == isl.schedule_node_type.mark and \
                n.mark_get_id().get_name() == POINT_MARK + "16x32x64":
            found.update(access_footprints(k.scop, n))
        return True

    k.schedule.tree.get_root().foreach_descendant_top_down(visit)
    # point band (i, k, j): A[i, k] 16x32, B[k, j] 32x64, C[i, j] 16x64 (read and written)
    assert found["A"].box.sizes == (16, 32) and found["A"].written.is_empty()
    assert found["B"].box.sizes == (32, 64)
    assert found["C"].box.sizes == (16, 64) and not found["C"].written.is_empty()


# ------------------------------------------------------------------ structure

def test_gemm_packs_its_inputs_into_buffers_no_larger_than_the_box():
    k = polyk.generate(LIBRARY["gemm"].op, tile={1: (32, 64, 64)}, compile=False)
    # cost model: not C; A's buffer holds alpha * A (every read of A is alpha * A[i, k])
    assert _marks(k.schedule.tree, PACK_MARK) == [PACK_MARK + "A*alpha,B"]
    src = k.source
    sizes = {}
    for m in re.finditer(r"double polyk_pack_(\w+)\[(\d+)\]", src):
        sizes.setdefault(m.group(1), []).append(int(m.group(2)))
    # one buffer per printed tile case: full tiles get the whole box of the access
    # relation, partial tiles (isl's build knows they are smaller) at most that
    assert set(sizes) == {"A", "B"}
    assert max(sizes["A"]) == 32 * 64 and max(sizes["B"]) == 64 * 64
    assert min(sizes["A"]) >= 1 and min(sizes["B"]) >= 1
    # the tile reads the buffers, not the arrays
    assert re.search(r"polyk_pack_A\[.*polyk_o_A0", src)
    assert "polyk_pack_B[" in src


def test_copy_back_only_the_written_elements():
    """A lower-triangular update: the tile's box holds elements above the diagonal that the
    tile never writes, and that another statement writes; copying the box back would
    overwrite them."""
    @polyk.op
    def tri(C: f64[N, N], A: f64[N, M], B: f64[N, N]):
        for i in range(N):
            for j in range(i + 1, N):
                B[i, j] = B[i, j] * 2.0 + A[i, 0]
            for k in range(M):
                for j in range(i + 1):
                    C[i, j] += A[i, k] * A[j, k]

    rng = np.random.default_rng(4)
    inp = {"C": rng.uniform(0, 1, (23, 23)), "A": rng.uniform(0, 1, (23, 17)),
           "B": rng.uniform(0, 1, (23, 23))}
    k = _bitwise(tri, inp, {}, tile=(8, 8, 8), pack=True, target="openmp")
    assert "polyk_pack_" in k.source


def test_pack_false_and_auto_on_a_stencil():
    k = polyk.generate(LIBRARY["jacobi-2d"].op, tile=True, compile=False)
    assert not _marks(k.schedule.tree, PACK_MARK)       # written arrays: not by default
    k = polyk.generate(LIBRARY["gemm"].op, tile=True, pack=False, compile=False)
    assert "polyk_pack_" not in k.source


# ------------------------------------------------------------------ scaled buffers

def test_buffer_holds_the_products_with_a_scalar_argument():
    """gemm reads A only as alpha * A[i, k]: the copy computes the products once and the
    tile reads them (bitwise the same: one multiplication, same operands)."""
    from polyk.tiling.packing import group_scale, pack_scales
    k = polyk.generate(LIBRARY["gemm"].op, target="openmp", tile=True, compile=False)
    scales = pack_scales(k.scop)
    assert group_scale(k.scop, scales, "A") == "alpha"
    assert group_scale(k.scop, scales, "B") is None          # read as ... * B[k, j]
    assert group_scale(k.scop, scales, "C") is None          # written
    src = k.source
    assert re.search(r"polyk_pack_A\[[^\n]*\] = alpha \* A\[", src)
    assert re.search(r"polyk_r\d+ \+= \(polyk_pack_A\[", src)


def test_a_scale_only_where_every_read_has_it():
    @polyk.op
    def two(C: f64[N, N], A: f64[N, N], B: f64[N, N], alpha: f64, beta: f64):
        for i in range(N):
            for j in range(N):
                for k in range(N):
                    C[i, j] += alpha * A[i, k] * B[k, j] + A[i, k]
                    C[i, j] += beta * B[k, j]

    k = polyk.generate(two, target="openmp", tile=(8, 8, 8), compile=False)
    from polyk.tiling.packing import group_scale, pack_scales
    scales = pack_scales(k.scop)
    assert group_scale(k.scop, scales, "A") is None           # also read unscaled
    assert group_scale(k.scop, scales, "B") is None           # alpha * A * B: B not scaled;
    rng = np.random.default_rng(3)                           # beta * B: two scalars
    inp = {"C": rng.uniform(0, 1, (21, 21)), "A": rng.uniform(0, 1, (21, 21)),
           "B": rng.uniform(0, 1, (21, 21)), "alpha": 1.5, "beta": 1.1}
    _bitwise(two, inp, {}, tile=(8, 8, 8), pack=True, target="openmp")


@pytest.mark.parametrize("name", ["gemm", "2mm", "syrk", "syr2k"])
def test_scaled_buffers_bitwise(name):
    spec = LIBRARY[name]
    op = spec.op
    sz = dict(spec.sizes["test"])
    k = _bitwise(op, op.make_inputs(sz, seed=9), {p: sz[p] for p in free_params(op)},
                 target="openmp", tile=True)
    assert re.search(r"= alpha \* [A-Z]\w*\[", k.source)


def test_scaled_buffer_in_float32():
    @polyk.op
    def sgemm(C: f32[N, M], A: f32[N, N], B: f32[N, M], alpha: f32):
        for i in range(N):
            for k in range(N):
                for j in range(M):
                    C[i, j] += alpha * A[i, k] * B[k, j]

    rng = np.random.default_rng(8)
    inp = {"C": rng.uniform(0, 1, (37, 45)).astype(np.float32),
           "A": rng.uniform(0, 1, (37, 37)).astype(np.float32),
           "B": rng.uniform(0, 1, (37, 45)).astype(np.float32), "alpha": 1.3}
    for tile in ((16, 8, 32), True):
        k = _bitwise(sgemm, inp, {}, tile=tile, target="openmp")
        assert re.search(r"float polyk_pack_A\[", k.source)
        assert re.search(r"= alpha \* A\[", k.source)


# ------------------------------------------------------------------ transposed groups

def test_read_only_array_read_two_ways_packs_two_groups_one_transposed():
    """syrk reads A[i][k] and A[j][k]: the two tiles' rows share no fixed box, so each
    access is packed on its own; the register block's vector loop runs along j, which
    walks A[j][k] across rows: that group's buffer is stored [k][j]."""
    from polyk.tiling.packing import pack_groups, parse_entry
    spec = LIBRARY["syrk"]
    k = polyk.generate(spec.op, target="openmp", tile=True, compile=False)
    groups = pack_groups(k.scop)
    assert set(groups) == {"A"} and len(groups["A"]) == 2
    marks = _marks(k.schedule.tree, PACK_MARK)
    assert marks
    entries = {parse_entry(e) for m in marks for e in m[len(PACK_MARK):].split(",")}
    (t,) = [g for a, g, perm in entries if perm == (1, 0)]
    assert entries == {("A", t, (1, 0)), ("A", 1 - t, None)}
    # the transposed group is A[j][k] (the statement's second iterator first)
    assert {ix[0].name for _, ix in groups["A"][t]} == {"j"}
    src = k.source
    # A[j][k] from the transposed buffer: the copy walks j innermost, the block loads
    # vectors of consecutive j from it
    assert re.search(rf"polyk_pack_A_{t}\[\(+polyk_q1\) - polyk_o_A_{t}1\)+ \* \d+ "
                     rf"\+ \(\(polyk_q0\) - polyk_o_A_{t}0\)\] = A\[", src)
    assert re.search(rf"__builtin_memcpy\(&polyk_t\d+, &polyk_pack_A_{t}\[", src)
    assert any("transposed" in n for n in k.schedule.notes)
    # without packing no vector member exists: scalar accumulators along j
    k = polyk.generate(spec.op, target="openmp", tile=True, pack=False, compile=False)
    assert any("scalar accumulators" in n for n in k.schedule.notes)
    assert "vector_size" not in k.source


@pytest.mark.parametrize("opts", [
    dict(tile=True), dict(tile=(8, 16, 8), unroll_jam=(2, 8)),
    dict(tile=(12, 20, 7), unroll_jam=(4, 4), pack=True),
    dict(tile={1: (16, 8, 8)}, l2_tile=True, target="c"),
    dict(tile=(1, 16, 4), unroll_jam=(1, 8)),
], ids=["auto", "8x16x8", "non-dividing", "l2", "tile-1"])
@pytest.mark.parametrize("name", ["syrk", "syr2k"])
def test_transposed_buffers_bitwise(name, opts):
    spec = LIBRARY[name]
    sz = {"N": 45, "M": 37}
    k = _bitwise(spec.op, spec.op.make_inputs(sz, seed=5), sz,
                 **{"target": "openmp", **opts})
    if not opts.get("l2_tile"):       # (two tiling levels: no fixed box, no packing)
        assert "polyk_pack_A_0" in k.source and "polyk_pack_A_1" in k.source


def test_simd_mark_follows_the_transposed_layout():
    """A simd mark on a loop walking A[j][k] along j only where a transposed buffer serves
    the access (vector.py asks packing.layouts_above)."""
    spec = LIBRARY["syr2k"]
    k = polyk.generate(spec.op, target="openmp", tile=(16, 64, 16), unroll_jam=(4, 16),
                       compile=False)
    assert sum("transposed" in n for n in k.schedule.notes) == 1
    inner = [n for n in k.schedule.notes if n.startswith("loop c7 marked simd")]
    assert inner
    k = polyk.generate(spec.op, target="openmp", tile=(16, 64, 16), unroll_jam=(4, 16),
                       pack=False, compile=False)
    assert not [n for n in k.schedule.notes if n.startswith("loop c7 marked simd")]


# ------------------------------------------------------------------ every kernel

# CI runs one seeded combination for each of these (packing of read and written arrays,
# triangular and skewed footprints); the full product over every kernel is `slow`
CI_KERNELS = ("gemm", "syr2k", "lu", "fdtd-2d", "trisolv")


def _combos():
    out = []
    rnd = random.Random(7)
    for name in sorted(LIBRARY):
        full = [(tile, target) for tile in ((8, 8, 8), (16, 8, 32), (32, 32, 32))
                for target in ("c", "openmp")]
        keep = rnd.randrange(len(full)) if name in CI_KERNELS else -1
        for i, (tile, target) in enumerate(full):
            marks = () if i == keep else (pytest.mark.slow,)
            out.append(pytest.param(name, dict(tile=tile, pack=True, target=target),
                                    marks=marks, id=f"{name}-{i}"))
    return out


@pytest.mark.parametrize("name,opts", _combos())
def test_kernels_bitwise_with_every_array_packed(name, opts):
    spec = LIBRARY[name]
    sz = spec.sizes["test"]
    _bitwise(spec.op, spec.op.make_inputs(sz, seed=11),
             {p: sz[p] for p in free_params(spec.op)}, **opts)


def test_polyk_compile_round_trip_with_packing_and_register_blocks(tmp_path):
    """`polyk compile` prints the buffers and vector blocks into the C region; the file
    compiles with gcc and gives the original file's results bitwise."""
    import ctypes
    import subprocess

    from polyk.compile_c import transform_c
    from polyk.kernels.polybench import c_file

    path = c_file("gemm")
    text = open(path).read()
    out = transform_c(text, path, target="openmp", tile=(16, 16, 16), unroll_jam=(4, 8),
                      pack=True)
    assert "polyk_pack_A" in out and "vector_size" in out
    (tmp_path / "t.c").write_text(out)
    libs = {}
    for tag, src, extra in (("orig", path, []), ("trans", str(tmp_path / "t.c"), ["-fopenmp"])):
        so = str(tmp_path / f"{tag}.so")
        proc = subprocess.run(["gcc", "-O2", "-std=gnu11", "-fPIC", "-shared",
                               "-ffp-contract=off", *extra, src, "-o", so, "-lm"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        libs[tag] = ctypes.CDLL(so)
    spec = LIBRARY["gemm"]
    sz = {"NI": 37, "NJ": 41, "NK": 35}
    inp = spec.op.make_inputs(sz, seed=2)
    res = {}
    for tag, lib in libs.items():
        v = copy_args(inp)
        lib.kernel_gemm(*[ctypes.c_int(sz[p]) for p in ("NI", "NJ", "NK")],
                        ctypes.c_double(v["alpha"]), ctypes.c_double(v["beta"]),
                        *[ctypes.c_void_p(v[a].ctypes.data) for a in ("C", "A", "B")])
        res[tag] = v["C"]
    np.testing.assert_array_equal(res["trans"], res["orig"])
