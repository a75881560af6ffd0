"""``polyk.generate``: the pipeline, one value per stage.

    op ──► Scop ──► Dependences ──► Schedule ──► legality check ──► C source ──► Kernel
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings

from .codegen import jit
from .codegen.ast_check import AstMismatch
from .codegen.c_printer import print_c
from .errors import PolykWarning, ScheduleError
from .options import Options
from .schedule import Schedule, check_schedule
from .schedule.legality import scalars_interleaved
from .schedule.isl_scheduler import isl_schedule
from .schedule.parallel import (accumulations_only, insert_parallel_marks, mark_coincident,
                                wavefront)
from .schedule.pluto import pluto_schedule
from .schedule.tree import rows_to_tree
from .scop import build_scop, compute_dependences
from .scop.homing import apply_homes, find_homes
from .scop.privatize import drop_private_deps, privatizable, split_for_coincidence
from .tiling.diamond import diamond_tile_bands
from .tiling.intratile import reorder_bands
from .tiling.packing import insert_pack_marks
from .tiling.rectangular import tile_bands
from .tiling.separation import separate_full_tiles
from .tiling.jam import jam_into_bodies
from .tiling.unroll_jam import register_block_tile_sizes, register_tile
from .tiling.vector import insert_simd_marks, sink_vector_members

log = logging.getLogger(__name__)


def schedule_scop(scop, deps, options: Options) -> Schedule:
    """The schedule the options ask for, with parallel members and (for OpenMP) marks."""
    notes = []
    pluto = None
    private = {}
    if options.scheduler == "identity":
        tree = scop.schedule
        notes.append("the loop nest as written")
    else:
        private = privatizable(scop, deps)
        tree, pluto = _reschedule(scop, deps, options, private)
        if private:
            try:
                check_schedule(scop, tree)
                notes.append("private scalars: " + ", ".join(sorted(private)))
            except ScheduleError:
                notes.append(f"scalars {', '.join(sorted(private))} kept shared: the "
                             "schedule found with them private interleaved their uses")
                private = {}
                tree, pluto = _reschedule(scop, deps, options, {})
    # bands are permutable only up to the private scalars' dropped dependences: tiling or
    # skewing them must not interleave two iterations' uses of a scalar
    broken = (lambda t: scalars_interleaved(scop, t, sorted(private))) if private else None
    always, scalars = split_for_coincidence(scop, deps)
    tree = mark_coincident(tree, always, scalars)
    if options.intratile and options.scheduler != "identity":
        tree, order_notes = reorder_bands(tree, scop)
        if order_notes:
            notes.extend(order_notes)
            tree = mark_coincident(tree, always, scalars)
    tiled = False
    if options.tile:
        untiled = tree

        def sizes_of(b, n, node=None):
            auto = None
            if node is not None and options.unroll_jam is not False:
                auto = register_block_tile_sizes(scop, node, options.unroll_jam,
                                                 vector_bytes(options),
                                                 pack=options.pack is not False)
            return options.tile_sizes(b, n, auto)

        if options.diamond:
            tree, tile_notes = diamond_tile_bands(
                tree, scop, deps.all(), sizes_of, options.l2_factors,
                required=options.diamond is True, coef_bound=options.coef_bound,
                default_sizes_=options.tile is True, broken=broken)
        else:
            tree, tile_notes = tile_bands(tree, sizes_of, options.l2_factors, broken)
        tiled = tree is not untiled        # notes may only say why a band was not tiled
        notes.extend(tile_notes)
        tree = mark_coincident(tree, always, scalars)
    want_wave = options.wavefront
    if want_wave is None:
        want_wave = tiled and options.target == "openmp"
    if want_wave:
        # wavefront=True skews every band it can; the default leaves accumulation-only
        # bands in order
        serial = accumulations_only(scop, deps.all()) if options.wavefront is None else None
        waved, wave_notes = wavefront(tree, broken, serial)
        notes.extend(wave_notes)
        if waved is not tree:
            tree = mark_coincident(waved, always, scalars)
    if options.target == "openmp":
        tree = insert_parallel_marks(tree)
    if tiled and options.separate:
        tree, sep_notes = separate_full_tiles(tree)
        notes.extend(sep_notes[:1])
    if tiled and options.pack is not False:
        tree, pack_notes = insert_pack_marks(tree, scop, options.pack,
                                             transpose=options.unroll_jam is not False)
        notes.extend(pack_notes)
    if tiled and options.unroll_jam is not False:
        tree, uj_notes = register_tile(tree, scop, options.unroll_jam,
                                       vector_bytes(options), pack=options.pack is not False)
        if uj_notes:
            notes.extend(uj_notes)
            tree = mark_coincident(tree, always, scalars)
    # also where nothing was tiled: atax's loops are bands of one member each
    if options.tile and options.unroll_jam is not False and options.scheduler != "identity":
        def problem(t):
            try:
                check_schedule(scop, t)
            except ScheduleError as e:
                return str(e)
            return broken(t) if broken is not None else None

        tree, jam_notes = jam_into_bodies(tree, scop, deps.all(), options.unroll_jam,
                                          vector_bytes(options),
                                          lambda t: mark_coincident(t, always, scalars),
                                          problem)
        notes.extend(jam_notes)
    if tiled and options.intratile:
        tree, sink_notes = sink_vector_members(tree, scop)
        if sink_notes:
            notes.extend(sink_notes)
            tree = mark_coincident(tree, always, scalars)
    if options.simd and options.scheduler != "identity":
        tree, simd_notes = insert_simd_marks(tree, scop)
        notes.extend(simd_notes)
    if pluto is not None:
        notes.extend(pluto.notes)
    return Schedule(tree, options.scheduler, tuple(notes), pluto)


def vector_bytes(options: Options) -> int:
    """The vector size register blocks are built for: the machine's widest (what gcc's
    -march=native enables), or less where ``vector_width`` asks for narrower vectors."""
    vb = jit.native_vector_bytes(options.cc)
    return vb if options.vector_width is None else min(vb, options.vector_width // 8)


def _reschedule(scop, deps, options, private):
    sched_deps = drop_private_deps(scop, deps, private) if private else deps
    if options.scheduler == "pluto":
        res = pluto_schedule(scop, sched_deps, fuse=options.fuse,
                             coef_bound=options.coef_bound, timeout=options.schedule_timeout,
                             parallel_first=options.parallel_first, rar=options.rar)
        return rows_to_tree(scop, res.rows), res
    return isl_schedule(scop, sched_deps, fuse=options.fuse,
                        timeout=options.schedule_timeout), None


def _as_written(scop, schedule, problem) -> Schedule:
    """The loop nest as written, when isl's AST for ``schedule`` failed its check (an isl
    bug: polyk fuzz seed 910068). Warns: the options' transformations are not applied."""
    msg = (f"{scop.name}: isl's code for the {schedule.scheduler} schedule is wrong "
           f"({problem}); using the loop nest as written instead")
    warnings.warn(msg, PolykWarning, stacklevel=3)
    log.warning(msg)
    note = (f"the loop nest as written: isl's AST for the {schedule.scheduler} schedule "
            f"failed its check ({problem})")
    return Schedule(scop.schedule, "identity", (note,))


def scop_and_dependences(op, opts: Options):
    """The op's SCoP and dependences, with scalar accumulators kept in the array elements
    they end in where that is allowed (``home_scalars``; polyk/scop/homing.py)."""
    scop = op.scop(sizes=opts.sizes, assume=opts.assume)
    deps = compute_dependences(scop, timeout=opts.schedule_timeout)
    if not opts.home_scalars or opts.scheduler == "identity":
        return scop, deps, ()
    homes = find_homes(scop, deps)
    if not homes:
        return scop, deps, ()
    scop = build_scop(apply_homes(scop.program, homes), sizes=opts.sizes, assume=opts.assume)
    deps = compute_dependences(scop, timeout=opts.schedule_timeout)
    notes = tuple(f"scalar {h.scalar} of {', '.join(h.statements)} kept in {h.text}"
                  for h in homes)
    return scop, deps, notes


def generate(op, target: str | None = None, *, options: Options | None = None, **kw):
    """Generate (and by default compile) a kernel for ``op``.

    ``target`` is "c" (default), "openmp" or "cuda"; further options (see ``polyk.Options``) are keywords:
    ``scheduler=``, ``fuse=``, ``sizes=``, ``assume=``, ``compile=``, ``fp_contract=``, ...
    """
    from .kernel import Kernel
    if target is not None:
        kw["target"] = target
    opts = Options.from_keywords(options, **kw)
    if opts.target == "cuda":
        from .codegen.cuda_runtime import generate_cuda
        return generate_cuda(op, opts)
    t0 = time.perf_counter()
    scop, deps, home_notes = scop_and_dependences(op, opts)
    t1 = time.perf_counter()
    schedule = schedule_scop(scop, deps, opts)
    if home_notes:
        schedule = dataclasses.replace(schedule, notes=home_notes + schedule.notes)
    t2 = time.perf_counter()
    check_schedule(scop, schedule)
    t3 = time.perf_counter()
    vbytes = vector_bytes(opts)
    try:
        cfunc = print_c(scop, schedule, omp_schedule=opts.omp_schedule, simd=opts.simd,
                        scalar_replace=opts.scalar_replace, vector_bytes=vbytes)
    except AstMismatch as e:
        schedule = _as_written(scop, schedule, e)
        cfunc = print_c(scop, schedule, omp_schedule=opts.omp_schedule, simd=False,
                        scalar_replace=opts.scalar_replace, vector_bytes=vbytes)
    so = None
    if opts.compile:
        so = jit.build(cfunc.text, flags=opts.flags(), cc=opts.cc)
    log.debug("%s: scop+deps %.2f s, schedule %.2f s, check %.2f s, print+compile %.2f s",
              scop.name, t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
    return Kernel(op, scop, deps, schedule, cfunc, opts, so)
