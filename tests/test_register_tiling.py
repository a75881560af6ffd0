"""Register tiling (unroll-and-jam), scalar replacement and vector printing of register blocks.

Results are compared bitwise with the untransformed kernel (identity schedule) under
-ffp-contract=off: the vector lanes do the operations of the loop in the same order."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

import polyk
from polyk import f32, f64
from polyk.errors import OptionsError
from polyk.kernels import LIBRARY

from conftest import copy_args, free_params

NI, NJ, NK = polyk.params("NI NJ NK")


@polyk.op
def gemm32(alpha: f32, beta: f32, C: f32[NI, NJ], A: f32[NI, NK], B: f32[NK, NJ]):
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


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


# ------------------------------------------------------------------ structure

def test_gemm_register_block_structure():
    k = polyk.generate(LIBRARY["gemm"].op, tile=(32, 32, 32), unroll_jam=(4, 16),
                       compile=False, pack=False)
    notes = " ".join(k.schedule.notes)
    assert "register tile 4x16" in notes
    src = k.source
    # 4 unrolled rows x 16 doubles in vectors of the machine's width (8 doubles with
    # AVX-512: 8 accumulators; 4 with AVX2: 16), loaded before the k loop and stored after
    # it, vector loads of B, no accumulator access to C in the loop
    from polyk.codegen.jit import native_vector_bytes
    lanes = native_vector_bytes() // 8
    n_acc = 4 * (16 // lanes)
    assert f"vector_size({8 * lanes})" in src
    accs = set(re.findall(rf"polyk_f64x{lanes} (polyk_r\d+);", src))
    assert len(accs) == n_acc
    last = f"polyk_r{n_acc - 1}"
    loop = src[src.index(f"{last}; __builtin_memcpy"):]
    body = loop[loop.index("for (;"):loop.index("__builtin_memcpy(&C")]
    assert "C[" not in body, "the C block must live in registers inside the k loop"
    assert body.count("polyk_r0 +=") == 1 and body.count(f"{last} +=") == 1


def test_register_blocks_fit_the_machines_vectors():
    """Register blocks use the widest vectors -march=native enables (a 64-byte GCC vector
    type on an AVX2 machine is split by gcc and ran 10x slower), and no wider than
    vector_width asks."""
    from polyk.codegen.jit import native_vector_bytes
    vb = native_vector_bytes()
    assert vb in (16, 32, 64)
    k = polyk.generate(LIBRARY["gemm"].op, tile=(32, 32, 32), compile=False, pack=False)
    assert f"vector_size({vb})" in k.source
    assert f"vector_size({2 * vb})" not in k.source
    k = polyk.generate(LIBRARY["gemm"].op, tile=(32, 32, 32), compile=False, pack=False,
                       vector_width=128)
    assert "vector_size(16)" in k.source and "vector_size(32)" not in k.source


def test_gemm_f64_and_f32_bitwise():
    spec = LIBRARY["gemm"]
    sz = {"NI": 37, "NJ": 45, "NK": 29}
    _bitwise(spec.op, spec.op.make_inputs(sz, seed=3), {}, tile=(16, 16, 32),
             unroll_jam=(4, 16), target="openmp")
    rng = np.random.default_rng(5)
    inp = {"alpha": np.float32(1.5), "beta": np.float32(1.2),
           "C": rng.uniform(0, 1, (37, 70)).astype(np.float32),
           "A": rng.uniform(0, 1, (37, 29)).astype(np.float32),
           "B": rng.uniform(0, 1, (29, 70)).astype(np.float32)}
    k = _bitwise(gemm32, inp, {}, tile=(16, 16, 64), unroll_jam=(2, 32))
    from polyk.codegen.jit import native_vector_bytes
    assert f"polyk_f32x{native_vector_bytes() // 4}" in k.source


def test_scalar_replace_off_keeps_loops():
    spec = LIBRARY["gemm"]
    sz = spec.sizes["test"]
    k = _bitwise(spec.op, spec.op.make_inputs(sz, seed=1), {}, tile=(16, 16, 16),
                 unroll_jam=(2, 8), scalar_replace=False)
    assert any("register tile 2x8" in n for n in k.schedule.notes)
    assert "vector_size" not in k.source


def test_declines_without_a_reduction_loop():
    k = polyk.generate(LIBRARY["jacobi-2d"].op, tile=True, compile=False)
    assert not any("register tile" in n for n in k.schedule.notes)
    assert "vector_size" not in k.source


def test_vector_member_outside_an_innermost_reduction():
    """doitgen's point band (p, s): s, the sum, innermost; p, the only parallel member,
    outside (its tile loop is the parallel one). The register block brings p inside as the
    vector loop: sum[p..p+31] in vector registers across s, C4's rows loaded as vectors."""
    spec = LIBRARY["doitgen"]
    k = polyk.generate(spec.op, tile={3: (16, 16)}, compile=False, target="openmp")
    assert any(re.match(r"register tile 1x16 at depth \d .*c\d+ the vector loop", n)
               for n in k.schedule.notes), k.schedule.notes
    assert "vector_size" in k.source
    sz = spec.sizes["test"]
    _bitwise(spec.op, spec.op.make_inputs(sz, seed=2), {}, tile={3: (8, 5)}, target="openmp")
    _bitwise(spec.op, spec.op.make_inputs(sz, seed=2), {}, tile=True, target="openmp")


def test_scalar_accumulators_where_no_member_vectorises():
    """gesummv's band (i, j): the row sums over j innermost, i strides across rows. Blocks
    of 8 rows get 8 scalar accumulators for tmp and 8 for y (independent chains of adds),
    kept in registers across j; the default tiles are long along j."""
    spec = LIBRARY["gesummv"]
    k = polyk.generate(spec.op, tile=True, compile=False, target="openmp")
    assert "register tile 8x1 at depth 2 (unroll-and-jam; loop c3 inside the block, 8 " \
        "scalar accumulators)" in k.schedule.notes, k.schedule.notes
    tiles = [n for n in k.schedule.notes if re.fullmatch(r"b\d tiled \d+x\d+", n)]
    assert len(tiles) == 1 and int(tiles[0].split("x")[-1]) >= 256, tiles
    assert "double polyk_r15 = y[" in k.source and "vector_size" not in k.source
    inner = k.source[k.source.index("for (; "):]
    inner = inner[:inner.index("}")]
    assert "tmp[" not in inner and "y[" not in inner     # accumulators in registers
    for opts in (dict(tile=True), dict(tile={1: (24, 16)}), dict(tile={1: (5, 7)}),
                 dict(tile=True, unroll_jam=(3, 1))):
        _bitwise(spec.op, spec.op.make_inputs({"N": 53}, seed=4), {}, target="openmp",
                 **opts)


@pytest.mark.parametrize("name,acc,mem", [("bicg", "q", "s"), ("mvt", "x1", "x2")])
def test_scalar_accumulators_for_chains_of_some_statements(name, acc, mem):
    """bicg's band (i, j) carries dependences on both members: q[i] is summed along j, s[j]
    along i, so neither member is parallel and no member has every write invariant. Rows
    are still blocked by 8: q gets 8 accumulators in registers across j (independent
    chains), s[j] stays in memory and takes its 8 updates in the loop's order. mvt's fused
    band is the same with x1 and x2. Bitwise equal to the nest under several tilings."""
    spec = LIBRARY[name]
    k = polyk.generate(spec.op, tile=True, compile=False, target="openmp")
    assert any(n.startswith("register tile 8x1 at depth ") and "8 scalar accumulators" in n
               for n in k.schedule.notes), k.schedule.notes
    inner = k.source[k.source.index("for (; "):]
    inner = inner[:inner.index("}")]
    assert f"{acc}[" not in inner                       # accumulators in registers
    assert inner.count(f"{mem}[") == 16                 # 8 loads and 8 stores, in order
    sz = {p: 37 + 4 * k for k, p in enumerate(spec.sizes["test"])}
    for opts in (dict(tile=True), dict(tile=(24, 16)), dict(tile=(5, 7)),
                 dict(tile=True, unroll_jam=(3, 1)), dict(tile=True, wavefront=True)):
        _bitwise(spec.op, spec.op.make_inputs(sz, seed=5), {}, target="openmp", **opts)


N1 = polyk.params("N1")


@polyk.op
def rows_feed_back(A: f64[N1, N1], x: f64[N1], t: f64[N1]):
    for i in range(N1):
        for j in range(N1):
            t[i] = t[i] + A[i, j] * x[j]
        for j in range(N1):
            x[j] = x[j] + A[i, j] * t[i]


def test_outer_loop_jammed_into_the_loops_of_its_body():
    """atax keeps its row loop i around two inner loops over j (tmp's row sum, then y's
    update from it). The row loop is blocked by 8 and the block's rows moved into both inner
    loops: tmp gets 8 scalar accumulators (independent chains), y a vector block kept in
    registers across the 8 rows. Bitwise equal to the nest, with sizes that leave partial
    blocks, explicit factors, and on the serial C target."""
    spec = LIBRARY["atax"]
    k = polyk.generate(spec.op, tile=True, compile=False, target="openmp")
    (note,) = [n for n in k.schedule.notes if "jammed" in n]
    assert note.startswith("loop c0 unrolled by 8 and jammed into the 2 loops of its body")
    assert "8 scalar accumulators" in note and "vector loop" in note, note
    assert "double polyk_r7 = tmp[" in k.source and "vector_size" in k.source
    sz = {"M": 37, "N": 45}
    for opts in (dict(tile=True), dict(tile=True, unroll_jam=(3, 4)),
                 dict(tile=True, unroll_jam=(5, 1)), dict(tile=True, target="c"),
                 dict(tile=True, pack=True)):
        _bitwise(spec.op, spec.op.make_inputs(sz, seed=6), {}, **{"target": "openmp",
                                                                  **opts})
    k = polyk.generate(spec.op, tile=True, unroll_jam=False, compile=False)
    assert not any("jammed" in n for n in k.schedule.notes)


@polyk.op
def atax_columns(A: f64[N1, N1], x: f64[N1], y: f64[N1], tmp: f64[N1]):
    for i in range(N1):
        for j in range(N1):
            tmp[i] = tmp[i] + A[j, i] * x[j]
        for j in range(N1):
            y[j] = y[j] + A[j, i] * tmp[i]


@polyk.op
def sums_that_read_each_other(A: f64[N1, N1], s: f64[N1], q: f64[N1], r: f64[N1]):
    for i in range(N1):
        for j in range(N1):
            s[j] = s[j] + r[i] * A[i, j] + q[i]
            q[i] = q[i] + A[i, j] * s[j]


@pytest.mark.parametrize("uj", [None, (3, 4), (2, 16), (5, 1)])
def test_jam_into_the_body_with_a_vector_block_wider_than_the_rows(uj):
    """atax reading A by columns: after the jam, y's band has its vector member along the
    jammed rows' other loop; an explicit vector factor larger than the jammed rows (3 rows,
    4 lanes) is no reason to fail (found by review: an OptionsError escaped from jam.py);
    that block is left out and the result is bitwise the nest's."""
    rng = np.random.default_rng(4)
    inp = {"A": rng.uniform(0, 1, (23, 23)), "x": rng.uniform(0, 1, 23),
           "y": rng.uniform(0, 1, 23), "tmp": rng.uniform(0, 1, 23)}
    _bitwise(atax_columns, inp, {}, tile=True, unroll_jam=uj)


def test_no_scalar_block_where_the_summed_arrays_feed_each_other():
    """Each statement sums into an array the other one reads: the dependences do more than
    order each element's updates, so the band keeps its default tiles and runs as a
    wavefront (with 40 x 1024 tiles from a scalar block, the wavefront made the legality
    check run for minutes; found by review)."""
    k = polyk.generate(sums_that_read_each_other, tile=True, unroll_jam=(5, 1),
                       target="openmp", compile=False)
    assert not any("scalar accumulators" in n for n in k.schedule.notes), k.schedule.notes
    rng = np.random.default_rng(5)
    inp = {"A": rng.uniform(0, 0.01, (19, 19)), "s": rng.uniform(0, 1, 19),
           "q": rng.uniform(0, 1, 19), "r": rng.uniform(0, 1, 19)}
    _bitwise(sums_that_read_each_other, inp, {}, tile=True, unroll_jam=(5, 1))


@pytest.mark.parametrize("name", ["lu", "ludcmp"])
def test_no_scalar_block_for_isl_schedules_of_updates_that_read_other_elements(name):
    """With isl's scheduler, lu's band sums A[i][j] along k while reading A[i][k] and
    A[k][j]: not accumulations only, so no scalar block and no long tiles for one (they
    had them without a printed block, 3x slower; found by review)."""
    k = polyk.generate(LIBRARY[name].op, scheduler="isl", tile=True, compile=False)
    assert not any("scalar accumulators" in n for n in k.schedule.notes), k.schedule.notes
    assert not any("x1024" in n for n in k.schedule.notes), k.schedule.notes


def test_jam_into_the_body_refused_where_a_later_loop_feeds_an_earlier_one():
    """Row i's second loop writes x, which row i + 1's first loop reads: running a block's
    rows through the first loop before the second would reverse that dependence. The
    legality checker refuses the jammed schedule; the note says why and the loop stays."""
    k = polyk.generate(rows_feed_back, tile=True, compile=False)
    assert "loop c0 not jammed into its body: illegal schedule: it reverses the " \
        "dependence: S1 (line " in " ".join(k.schedule.notes), k.schedule.notes
    assert "double polyk_r" not in k.source
    rng = np.random.default_rng(3)
    inp = {"A": rng.uniform(0, 0.1, (29, 29)), "x": rng.uniform(0, 1, 29),
           "t": rng.uniform(0, 1, 29)}
    _bitwise(rows_feed_back, inp, {}, tile=True)


def test_scalar_accumulators_not_for_an_outer_reduction():
    """lu's band (k, i, j) has its reduction k outermost: nothing to gain from scalar
    chains, the tiles stay the default cubes."""
    k = polyk.generate(LIBRARY["lu"].op, tile=True, compile=False, target="openmp")
    assert "b0 tiled 32x32x32" in k.schedule.notes, k.schedule.notes
    assert not any("scalar accumulators" in n for n in k.schedule.notes)


def _tile_note(k, band):
    (note,) = [n for n in k.schedule.notes if n.startswith(f"b{band} tiled ")]
    return tuple(int(x) for x in note.split()[2].split("x"))


@pytest.mark.parametrize("op,elem", [(LIBRARY["gemm"].op, 8), (gemm32, 4)])
def test_default_tiles_of_a_register_blocked_band_follow_the_caches(op, elem):
    """tile=True on gemm's (i, k, j) band: k so that a register block's strip of B
    (kc x fv) fills two thirds of L1, j so that kc x nc fills a quarter of L2, i so that
    mc x kc fills an eighth of L2 but at most 16 register blocks; the C *= beta band (no
    reduction member) keeps square tiles. A tile size given for a member wins."""
    from polyk.codegen.jit import native_vector_bytes
    from polyk.tiling.rectangular import cache_sizes, default_sizes
    l1, l2 = cache_sizes()["L1"], cache_sizes()["L2"]
    # AVX-512: 8 rows of 2 vectors; narrower vectors: 4 rows of 4
    vb = native_vector_bytes()
    fu, fv = (8, 2 * vb // elem) if vb >= 64 else (4, 4 * vb // elem)

    def pow2(x):
        return 1 << (x.bit_length() - 1)

    kc = max(8, pow2(l1 * 2 // 3 // (fv * elem)))
    want = (max(fu, min(16 * fu, pow2(l2 // 8 // (kc * elem)))), kc,
            max(fv, pow2(l2 // 4 // (kc * elem))))
    k = polyk.generate(op, tile=True, compile=False)
    assert _tile_note(k, 1) == want
    assert _tile_note(k, 0) == default_sizes(2)
    assert any(f"register tile {fu}x{fv}" in n for n in k.schedule.notes)
    # a tile size given for the first member; the others still from the model
    k = polyk.generate(op, tile={1: (16,)}, compile=False)
    assert _tile_note(k, 1) == (16,) + want[1:]
    # without register blocks, square tiles
    k = polyk.generate(op, tile=True, unroll_jam=False, compile=False)
    assert _tile_note(k, 1) == default_sizes(3)


# ------------------------------------------------------------------ options

def test_factor_larger_than_tile_refused_by_options():
    with pytest.raises(OptionsError, match=r"unroll_jam factor 64 .*tile=\(32, 32, 32\)"):
        polyk.Options(tile=(32, 32, 32), unroll_jam=(4, 64))


def test_factor_larger_than_its_members_tile_refused():
    # tile 8 on i: an unroll factor 16 for i is refused with both numbers
    with pytest.raises(OptionsError, match="unroll_jam factor 16 is larger than the tile "
                                           "size 8"):
        polyk.generate(LIBRARY["gemm"].op, tile={1: (8, 32, 32)}, unroll_jam=(16, 8),
                       compile=False)


@pytest.mark.parametrize("bad", [(0, 4), (4,), "4x4", (2.0, 4), (True, 4)])
def test_bad_unroll_jam_values(bad):
    with pytest.raises(OptionsError, match="unroll_jam"):
        polyk.Options(tile=True, unroll_jam=bad)


def test_unroll_jam_needs_tile():
    with pytest.raises(OptionsError, match="unroll_jam needs tile"):
        polyk.Options(unroll_jam=(2, 8))


def test_scalar_replace_and_pack_validated():
    with pytest.raises(OptionsError, match="scalar_replace"):
        polyk.Options(scalar_replace="yes")
    with pytest.raises(OptionsError, match="pack"):
        polyk.Options(pack="sometimes")
    with pytest.raises(OptionsError, match="pack"):
        polyk.Options(pack=2)


def test_command_line_words():
    """`polyk compile --unroll-jam 4,16 --pack true` hands the options strings."""
    o = polyk.Options(tile=True, unroll_jam="4,16", pack="true")
    assert o.unroll_jam == (4, 16) and o.pack is True
    o = polyk.Options(tile=True, unroll_jam="false", pack="auto")
    assert o.unroll_jam is False and o.pack is None


# ------------------------------------------------------------------ every kernel

FACTORS = [None, (4, 16), (3, 5), (1, 8), (2, 3)]      # None: automatic
TILES = [(16, 16, 16), (7, 12, 9)]
# CI runs one seeded combination for each of these (register tiling applies to the first
# three, is declined by the others); the full product over every kernel is `slow`
CI_KERNELS = ("gemm", "2mm", "trmm", "syrk", "jacobi-2d")


def _combos():
    out = []
    rnd = random.Random(2026)
    for name in sorted(LIBRARY):
        full = [(uj, tile, pack, target) for uj in FACTORS for tile in TILES
                for pack in (False, True) for target in ("c", "openmp")]
        keep = rnd.randrange(len(full)) if name in CI_KERNELS else -1
        for i, (uj, tile, pack, target) in enumerate(full):
            marks = () if i == keep else (pytest.mark.slow,)
            out.append(pytest.param(name, dict(tile=tile, unroll_jam=uj, pack=pack,
                                               target=target),
                                    marks=marks, id=f"{name}-{i}"))
    return out


@pytest.mark.parametrize("name,opts", _combos())
def test_kernels_bitwise_under_register_tiling(name, opts):
    spec = LIBRARY[name]
    sz = spec.sizes["test"]
    try:
        _bitwise(spec.op, spec.op.make_inputs(sz, seed=11),
                 {p: sz[p] for p in free_params(spec.op)}, **opts)
    except OptionsError as e:
        # a factor larger than the tile (of the member it applies to): refused, by name
        assert re.search(r"unroll_jam factor \d+ is larger than (the|every) tile size", str(e))
