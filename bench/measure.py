"""The measuring side of bench/run.py: one process per kernel, driven by a JSON job.

``python3 bench/measure.py < job.json`` builds the kernel's variants ("columns"), then times
them in interleaved rounds (one run of each column per round, on fresh deep copies of the
same inputs, copying not timed), so that the noise of a shared machine falls on every column
alike rather than on whichever ran while a neighbour was busy. It writes one JSON line per
event to stdout; run.py puts a deadline on each step, computes the medians from the "tick"
events, and can kill a hung or very slow variant without losing the rest. The outputs of a
column's first run (its written arrays) go to ``<outdir>/<column>.npz`` for run.py to compare.

Columns: "baseline" (identity schedule, target c), "<scheduler>:<threads>" (OpenMP C; the
scheduler may carry options: "pluto+tile:2" is scheduler="pluto", tile=True, 2 threads),
"polly:1" (clang + Polly, serial), "polly-par:<threads>" (clang + Polly -polly-parallel),
"clang:1" (clang without Polly, to tell the compiler's part from Polly's).

A column keeps running while it has fewer than ``repeat`` runs or has spent less than
``min_seconds``, and stops once it has spent ``max_seconds`` (at least one run) or made 50
runs: the rule of ``polyk.timing.time_call``.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

HZ = os.sysconf("SC_CLK_TCK")


def emit(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ who else is using the CPUs
def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs; /proc/stat, 10 ms ticks)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(v[:8]) - v[3] - v[4]) / HZ      # all but idle and iowait


def own_seconds() -> float:
    """CPU seconds used by this process, all threads (getrusage: finer than ticks)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def involuntary_switches() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


# ------------------------------------------------------------------ sizes and tolerances
def instances(scop, sizes: dict) -> int:
    """Statement instances at ``sizes`` (box estimate per statement): the work measure used
    to extrapolate a run time from one size to another."""
    import islpy as isl
    total = 0
    for st in scop.statements:
        dom = st.domain
        space = dom.get_space()
        for k in range(space.dim(isl.dim_type.param)):
            name = space.get_dim_name(isl.dim_type.param, k)
            if name in sizes:
                dom = dom.fix_val(isl.dim_type.param, k, isl.Val(str(int(sizes[name]))))
        if dom.is_empty():
            continue
        vol = 1
        for d in range(dom.dim(isl.dim_type.set)):
            lo, hi = dom.dim_min_val(d), dom.dim_max_val(d)
            if lo.is_int() and hi.is_int():
                vol *= max(1, hi.to_python() - lo.to_python() + 1)
        total += vol
    return max(1, total)


def tolerance(spec, scop, sizes: dict) -> float:
    """Relative tolerance for comparing two compiled variants: the kernel's own where it
    declares one, else polyk.check's rule (64 ulp times the reduction length)."""
    if spec.rtol is not None:
        return float(spec.rtol)
    from polyk.check import reduction_length
    dtypes = [a.dtype.np for a in scop.args if a.is_array and a.dtype.is_float]
    eps = max((float(np.finfo(d).eps) for d in dtypes), default=float(np.finfo(np.float64).eps))
    return 64 * eps * reduction_length(scop, sizes)


def call_reference(reference, values: dict, params: dict) -> None:
    sig = inspect.signature(reference)
    takes_all = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    kw = {k: v for k, v in values.items() if takes_all or k in sig.parameters}
    kw.update({p: v for p, v in params.items() if takes_all or p in sig.parameters})
    reference(**kw)


def save(outdir: str, column: str, values: dict, written) -> str:
    path = os.path.join(outdir, column.replace(":", "_") + ".npz")
    np.savez(path, **{n: np.asarray(values[n]) for n in sorted(written) if n in values})
    return path


def copy_inputs(inputs: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}


# ------------------------------------------------------------------ the job
def run(job: dict) -> None:
    import polyk
    from polyk.kernels import LIBRARY

    spec = LIBRARY[job["kernel"]]
    op = spec.op
    sizes = {p: v for p, v in job["sizes"].items() if p in op.params}
    opts = job.get("options") or {}

    t0 = time.perf_counter()
    base = polyk.generate(op, target="c", scheduler="identity", fp_contract=True)
    emit(event="built", column="baseline", seconds=time.perf_counter() - t0)

    # LARGE too slow untransformed? One run at the smaller size, scaled by the work.
    fallback = job.get("fallback")
    if fallback:
        small = {p: v for p, v in fallback["sizes"].items() if p in op.params}
        inp = op.make_inputs(small, seed=0)
        t1 = time.perf_counter()
        base(**inp, **small)
        t_small = time.perf_counter() - t1
        estimate = t_small * instances(base.scop, sizes) / instances(base.scop, small)
        use_small = estimate > fallback["limit"]
        if use_small:
            sizes = small
        emit(event="size", name=fallback["name"] if use_small else job["size_name"],
             sizes=sizes, estimate=estimate, probe=t_small)

    inputs = op.make_inputs(sizes, seed=0)
    written = base.scop.written_arrays
    emit(event="meta", sizes=sizes, tolerance=tolerance(spec, base.scop, sizes),
         instances=instances(base.scop, sizes), polyk=os.path.dirname(polyk.__file__))

    # build every variant first
    variants, kernels = {}, {}
    for column in job["columns"]:
        if column != "baseline":
            emit(event="build", column=column)
        t0 = time.perf_counter()
        try:
            variants[column] = _variant(column, base, op, kernels, job, opts)
        except Exception as e:  # noqa: BLE001 -- a failing variant is a result, not a crash
            emit(event="error", column=column, stage="generate",
                 error=f"{type(e).__name__}: {e}".strip()[:2000],
                 trace=traceback.format_exc()[-3000:])
            continue
        if column != "baseline":
            emit(event="built", column=column, seconds=time.perf_counter() - t0,
                 **variants[column][2])

    # interleaved rounds
    progress = {c: list(job.get("progress", {}).get(c, (0, 0.0))) for c in variants}
    have_output = set(job.get("have_output", ()))
    repeat, min_s, max_s = job["repeat"], job["min_seconds"], job["max_seconds"]

    def active(c):
        runs, spent = progress[c]
        if runs >= 50 or (runs >= 1 and spent > max_s):
            return False
        return runs < repeat or spent < min_s

    last_parallel = False
    while True:
        todo = [c for c in variants if active(c)]
        if not todo:
            break
        for column in todo:
            fn, threads, _ = variants[column]
            args = copy_inputs(inputs)
            if last_parallel:
                # let the OpenMP pool of the previous run stop spinning (libgomp spins a
                # while before it sleeps) so that it does not share the next run's CPUs
                time.sleep(0.02)
            last_parallel = threads is not None and threads > 1
            emit(event="run", column=column)
            try:
                dt, load, share, switches = _one_run(fn, args, sizes, threads)
            except Exception as e:  # noqa: BLE001
                emit(event="error", column=column, stage="run",
                     error=f"{type(e).__name__}: {e}".strip()[:2000],
                     trace=traceback.format_exc()[-3000:])
                del variants[column]
                continue
            progress[column][0] += 1
            progress[column][1] += dt
            tick = dict(event="tick", column=column, seconds=dt, load=load, share=share,
                        switches=switches)
            if column not in have_output:
                tick["out"] = save(job["outdir"], column, args, written)
                have_output.add(column)
            emit(**tick)
            if not active(column):
                emit(event="done", column=column)

    if job.get("reference"):
        emit(event="build", column="reference")
        vals = copy_inputs(inputs)
        t0 = time.perf_counter()
        try:
            call_reference(spec.reference, vals, sizes)
        except Exception as e:  # noqa: BLE001
            emit(event="error", column="reference", stage="run",
                 error=f"{type(e).__name__}: {e}"[:2000])
        else:
            emit(event="tick", column="reference", seconds=time.perf_counter() - t0,
                 out=save(job["outdir"], "reference", vals, written))
            emit(event="done", column="reference")
    emit(event="finished")


def _one_run(fn, args, sizes, threads):
    """(wall seconds, other processes' load in cores, own CPU / (wall × threads),
    involuntary context switches) of one call."""
    import polyk
    b0, o0, s0 = busy_seconds(), own_seconds(), involuntary_switches()
    if threads is None:
        t0 = time.perf_counter()
        fn(**args, **sizes)
        dt = time.perf_counter() - t0
    else:
        with polyk.openmp_threads(threads):
            t0 = time.perf_counter()
            fn(**args, **sizes)
            dt = time.perf_counter() - t0
    own = own_seconds() - o0
    load = (busy_seconds() - b0 - own) / dt if dt >= 0.1 else None
    share = own / (dt * (threads or 1)) if dt >= 0.01 else None
    return dt, load, share, involuntary_switches() - s0


def variant_options(kind: str) -> tuple[str, dict]:
    """"pluto+tile+l2_tile" -> ("pluto", {"tile": True, "l2_tile": True}); a part may also be
    KEY=VALUE with a Python literal: "pluto+tile=(64,64,64)"."""
    import ast
    scheduler, *parts = kind.split("+")
    out = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq:
            out[key] = True
            continue
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return scheduler, out


def _variant(column: str, base, op, kernels: dict, job: dict, opts: dict):
    """(callable, thread count or None, info) for a column."""
    import polyk
    kind, _, n = column.partition(":")
    threads = int(n) if n else None
    if kind == "baseline":
        return base, None, {}
    if kind in ("polly", "polly-par", "clang"):
        import polly
        so = polly.build(base.source, job["clang"], parallel=kind == "polly-par",
                         polly=kind != "clang", workdir=job["outdir"])
        return polly.PollyKernel(base, so), (threads if kind == "polly-par" else None), {}
    if kind not in kernels:
        scheduler, extra = variant_options(kind)
        kw = dict(opts) | extra
        target = kw.pop("target", "openmp")
        if job.get("fuse"):
            kw["fuse"] = job["fuse"]
        kernels[kind] = polyk.generate(op, target=target, scheduler=scheduler,
                                       fp_contract=True, **kw)
    k = kernels[kind]
    if k.options.target != "openmp":
        threads = None
    return k, threads, {"omp_loops": k.source.count("#pragma omp parallel")}


if __name__ == "__main__":
    try:
        run(json.load(sys.stdin))
    except Exception as e:  # noqa: BLE001
        emit(event="fatal", error=f"{type(e).__name__}: {e}"[:2000],
             trace=traceback.format_exc()[-3000:])
        sys.exit(1)
