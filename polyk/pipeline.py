"""``polyk.generate``: the pipeline, one value per stage.

    op ──► Scop ──► Dependences ──► Schedule ──► legality check ──► C source ──► Kernel
"""

from __future__ import annotations

import logging
import time

from .codegen import jit
from .codegen.c_printer import print_c
from .options import Options
from .schedule import check_schedule, identity_schedule
from .scop import compute_dependences

log = logging.getLogger(__name__)


def schedule_scop(scop, deps, options: Options):
    """The schedule the options ask for (only the original order so far)."""
    return identity_schedule(scop)


def generate(op, target: str = "c", *, options: Options | None = None, **kw):
    """Generate (and by default compile) a kernel for ``op``.

    ``target`` is "c"; further options (see ``polyk.Options``) are keywords:
    ``sizes=``, ``assume=``, ``compile=``, ``fp_contract=``, ``cc=``, ``cflags=``.
    """
    from .kernel import Kernel
    opts = Options.from_keywords(options, target=target, **kw)
    t0 = time.perf_counter()
    scop = op.scop(sizes=opts.sizes, assume=opts.assume)
    deps = compute_dependences(scop)
    schedule = schedule_scop(scop, deps, opts)
    check_schedule(scop, schedule)
    cfunc = print_c(scop, schedule)
    so = None
    if opts.compile:
        so = jit.build(cfunc.text, flags=opts.flags(), cc=opts.cc)
    log.debug("generated %s in %.2f s", scop.name, time.perf_counter() - t0)
    return Kernel(op, scop, deps, schedule, cfunc, opts, so)
