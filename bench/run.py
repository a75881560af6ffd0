#!/usr/bin/env python3
"""polyk's benchmark: transformed kernels as ratios against the untransformed loop nest.

    python3 bench/run.py                          # every kernel, LARGE where it has it, else "bench"
    python3 bench/run.py --kernels gemm,2mm --threads 1,2 --polly
    python3 bench/run.py --suite polybench --size large --markdown out.md

For each kernel, in the same run and on the same inputs:
  baseline     the loop nest as written (scheduler="identity", target="c"), gcc with polyk's
               flags (-O3 -march=native ...), one thread;
  <sched> Nt   the kernel rescheduled by <sched> ("pluto", optionally "isl"), OpenMP C from
               the same compiler and flags, run with N threads;
  polly        (--polly) the baseline's C source compiled by clang + Polly
               (-polly -polly-tiling -polly-vectorizer=stripmine), serial;
  polly∥ Nt    the same with -polly-parallel, N threads;
  clang        (--clang) the baseline's C compiled by clang without Polly.
Each time is the median of --repeat runs on fresh copies of the inputs (fewer once
--max-seconds are spent); cells are speedups, baseline time / variant time. Every variant's
output is compared once with the baseline's (np.allclose, tolerance 64 ulp × reduction
length, or the kernel's own) and flagged "!" on a mismatch.

Each kernel runs in its own process (bench/measure.py), so a hung, very slow or crashing
variant is killed and reported instead of stopping the run. Where the chosen size is LARGE
and the untransformed kernel would take more than --max-baseline seconds (estimated from one
run at MEDIUM, scaled by the number of statement instances), MEDIUM is used instead.

Timing (measure.py): the columns of a kernel are run in interleaved rounds (one run of each
per round), each run on a fresh copy of the inputs, so that a busy neighbour slows every
column alike; a column stops after --repeat runs once it has spent --min-seconds, or once it
has spent --max-seconds. The measuring process runs in its own session with a raised
priority (--nice, also applied to its scheduler autogroup), and every run records how much
of the CPU it got: serial times that had the CPU less than 70% of the time are marked "~".
OpenMP threads are bound to CPUs (OMP_PROC_BIND=true, OMP_PLACES=cores, unless set): unbound,
a worker woken from sleep was often placed on the CPU of the thread that woke it, and with as
many threads as CPUs each barrier then waited out a scheduler time slice (jacobi-1d, 0.5 ms
with 9 barriers, took 8-17 ms per call in such runs, with 2-5 involuntary context switches;
bound, 0.3-0.6 ms).
polyk is imported from a copy of polyk/ and kernels/ taken when the run starts (--live: the
working tree), so one run measures one version while others edit the tree.

This is a benchmark, not a test: times on a shared machine are noisy; only ratios measured
in the same run mean anything (DESIGN.md, Invariants).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from report import (compare, findings, fmt_time, label, markdown_report,  # noqa: E402
                    ratio_text, table)

BUILD_DEADLINE = 240.0      # seconds for scheduling + compiling one variant
RUN_SLACK = 15.0            # added to a run's deadline (saving the first run's outputs)
MIN_RUN_DEADLINE = 10.0     # never stop a run sooner (seconds, before RUN_SLACK)
REPO = os.path.dirname(HERE)


# ------------------------------------------------------------------ options and set-up
def parse(argv=None):
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Time polyk's transformed kernels against the untransformed loop nest "
                    "(ratios measured in the same run).")
    p.add_argument("--kernels", help="comma-separated kernel names (default: the suite)")
    p.add_argument("--suite", choices=("all", "library", "polybench"), default="all")
    p.add_argument("--size", default="auto",
                   help="size set: auto (LARGE where the kernel has it, else 'bench'), bench, "
                        "mini, small, medium, large, ... (case-insensitive)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (median)")
    p.add_argument("--max-seconds", type=float, default=5.0,
                   help="stop repeating a measurement after this many seconds")
    p.add_argument("--threads", default="1,2", help="OpenMP thread counts, e.g. 1,2")
    p.add_argument("--schedulers", default="pluto",
                   help="rescheduled variants, e.g. pluto,isl; options ride along with '+': "
                        "pluto+tile (tile=True), pluto+tile=(64,64,64)+l2_tile, "
                        "pluto+target=c (serial C: the schedule without OpenMP)")
    p.add_argument("--fuse", choices=("smart", "max", "none"), default=None,
                   help="fusion policy of the schedulers (default: polyk's, smart)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a polyk.generate option for the rescheduled variants, e.g. "
                        "tile=True (repeatable; values are Python literals)")
    p.add_argument("--live", action="store_true",
                   help="import polyk from the working tree as it changes, instead of from a "
                        "copy taken when the run starts (other people may be editing it)")
    p.add_argument("--polly", action="store_true",
                   help="add clang + Polly columns (skipped with a note if no clang has Polly)")
    p.add_argument("--clang", action="store_true",
                   help="add a column for the baseline's C compiled by clang without Polly")
    p.add_argument("--reference", action="store_true",
                   help="also check the baseline against the kernel's NumPy reference")
    p.add_argument("--max-baseline", type=float, default=60.0,
                   help="LARGE is replaced by MEDIUM where the untransformed kernel would take "
                        "longer than this (seconds)")
    p.add_argument("--max-slowdown", type=float, default=4.0,
                   help="a run of a variant is stopped once it takes this many times the "
                        "baseline (+15 s); the cell then shows an upper bound '<x'")
    p.add_argument("--min-seconds", type=float, default=0.5,
                   help="keep repeating short kernels until this many seconds are spent")
    p.add_argument("--nice", type=int, default=-10,
                   help="niceness of the measuring process and its scheduler autogroup, so "
                        "that other sessions' jobs disturb it less (negative needs root; "
                        "0: leave it)")
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    p.add_argument("--json", help="also write the raw results as JSON to this file")
    a = p.parse_args(argv)
    a.options = {}
    for item in a.option:
        key, eq, value = item.partition("=")
        if not eq:
            p.error(f"--option {item!r}: write KEY=VALUE, e.g. tile=True")
        try:
            a.options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            a.options[key.strip()] = value.strip()
    a.threads = [int(t) for t in a.threads.split(",") if t.strip()]
    # split on commas outside brackets: "pluto,pluto+tile=(64,64,64)"
    a.schedulers = [x.strip() for x in re.split(r",(?![^()\[\]]*[)\]])", a.schedulers)
                    if x.strip()]
    if a.repeat < 1 or not a.threads or min(a.threads) < 1:
        p.error("--repeat and --threads must be positive")
    return a


def size_key(spec, name: str):
    """The key of ``spec.sizes`` called ``name`` (case-insensitive), or None."""
    for k in spec.sizes:
        if k.lower() == name.lower():
            return k
    return None


def choose_size(spec, requested: str):
    """(size name, sizes, fallback) for a kernel; fallback is (name, sizes) or None."""
    names = ["large", "bench"] if requested == "auto" else [requested]
    for n in names:
        key = size_key(spec, n)
        if key is not None:
            break
    else:
        return None, None, None
    fb = None
    medium = size_key(spec, "medium")
    if key.lower() == "large" and medium is not None:
        fb = (medium, dict(spec.sizes[medium]))
    return key, dict(spec.sizes[key]), fb


def columns(args, clang) -> list[str]:
    cols = [f"{s}:{t}" for s in args.schedulers for t in args.threads
            if t == 1 or "+target=c" not in s]          # serial C runs with one thread
    if clang and args.clang:
        cols.append("clang:1")
    if clang and args.polly:
        cols.append("polly:1")
        cols += [f"polly-par:{t}" for t in args.threads if t > 1]
    return cols


def machine() -> dict:
    info = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "host": platform.node(), "python": platform.python_version()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key, field in (("Model name", "cpu"), ("CPU(s)", "cpus"), ("L2 cache", "l2"),
                           ("L3 cache", "l3")):
            m = re.search(rf"^{re.escape(key)}:\s*(.+)$", lscpu, re.M)
            if m:
                info[field] = m.group(1).strip()
    except OSError:
        pass
    cc = os.environ.get("CC") or "gcc"
    try:
        info["cc"] = subprocess.run([cc, "--version"], capture_output=True,
                                    text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        info["cc"] = cc
    try:
        from polyk.codegen.jit import BASE_FLAGS
        info["flags"] = " ".join(BASE_FLAGS)
    except ImportError:
        pass
    return info


def snapshot(workdir: str) -> str | None:
    """Copy polyk/ and kernels/ (as polyk/kernels) of this checkout, so that every kernel of
    the run is measured with the same code while others edit the working tree."""
    if not (os.path.isdir(os.path.join(REPO, "polyk"))
            and os.path.isdir(os.path.join(REPO, "kernels"))):
        return None
    root = os.path.join(workdir, "snapshot")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    shutil.copytree(os.path.join(REPO, "polyk"), os.path.join(root, "polyk"), ignore=ignore)
    shutil.copytree(os.path.join(REPO, "kernels"), os.path.join(root, "polyk", "kernels"),
                    ignore=ignore, dirs_exist_ok=True)
    return root


def source_version() -> str:
    """git HEAD, whether polyk/ or kernels/ differ from it, and a hash of their contents."""
    def git(*a):
        try:
            return subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    head = git("log", "-1", "--format=%h %s")
    head = head if len(head) <= 60 else head[:59] + "…"
    dirty = git("status", "--porcelain", "--", "polyk", "kernels")
    h = hashlib.sha256()
    for sub in ("polyk", "kernels"):
        for dp, dns, fns in sorted(os.walk(os.path.join(REPO, sub))):
            dns[:] = sorted(d for d in dns if d != "__pycache__")
            for fn in sorted(fns):
                if fn.endswith((".py", ".c")):
                    with open(os.path.join(dp, fn), "rb") as f:
                        h.update(fn.encode() + b"\0" + f.read())
    return (f"{head or '?'}" + (" + uncommitted changes" if dirty else "")
            + f" (polyk/ + kernels/ sha256 {h.hexdigest()[:12]})")


# ------------------------------------------------------------------ driving measure.py
def set_priority(pid: int, nice: int):
    """Give the measuring process (alone in its own session, so alone in its scheduler
    autogroup) the niceness ``nice``. With autogroups (Linux's default for desktop-like
    set-ups, and on these machines), a process's own niceness only counts against processes
    of its session; the session's autogroup niceness is what counts against other sessions,
    so set both. Returns the niceness obtained, or None."""
    if not nice:
        return None
    got = None
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
        got = nice
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        got = nice
    except OSError:
        pass
    return got


_ACTIVE: set = set()     # running measure.py processes, killed if run.py is stopped


def _terminate(signum, frame):
    raise KeyboardInterrupt


class Worker:
    """measure.py for one kernel; events read with deadlines."""

    def __init__(self, job: dict, log_path: str):
        self.log = open(log_path, "a")
        env = dict(os.environ)
        env.setdefault("OMP_PROC_BIND", "true")
        env.setdefault("OMP_PLACES", "cores")
        if job.get("snapshot"):
            env["PYTHONPATH"] = os.pathsep.join(
                [job["snapshot"]] + [p for p in [env.get("PYTHONPATH")] if p])
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "measure.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1,
                                     start_new_session=True, env=env)
        self.nice = set_priority(self.proc.pid, job.get("nice", 0))
        _ACTIVE.add(self)
        try:
            self.proc.stdin.write(json.dumps(job))
            self.proc.stdin.close()
        except BrokenPipeError:          # died at once: next_event reports it
            pass
        self._buf = ""

    def next_event(self, timeout: float):
        """The next event, None at end of output, or "timeout"."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while "\n" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536).decode()
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split("\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return {"event": "noise", "text": line}

    def kill(self):
        """Kill measure.py and what it started (a compiler, say): its own process group."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
        self.proc.wait()
        self.log.close()
        _ACTIVE.discard(self)

    def close(self):
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        _ACTIVE.discard(self)

    def stderr_tail(self, path: str, n: int = 1500) -> str:
        try:
            with open(path) as f:
                return f.read()[-n:]
        except OSError:
            return ""


def measure_kernel(name, spec, args, clang, workdir) -> dict:
    """Run every column of one kernel (restarting measure.py after a kill); return results."""
    size_name, sizes, fb = choose_size(spec, args.size)
    res = {"kernel": name, "suite": spec.suite, "cells": {}, "notes": []}
    if size_name is None:
        res["skipped"] = f"no size {args.size!r} (has {', '.join(spec.sizes)})"
        return res
    outdir = os.path.join(workdir, re.sub(r"[^A-Za-z0-9_.-]", "_", name))
    os.makedirs(outdir, exist_ok=True)
    log_path = os.path.join(outdir, "stderr.log")
    order = ["baseline"] + columns(args, clang)
    job = {"kernel": name, "size_name": size_name, "sizes": sizes,
           "repeat": args.repeat, "max_seconds": args.max_seconds,
           "min_seconds": args.min_seconds, "outdir": outdir, "clang": clang,
           "reference": args.reference, "fuse": args.fuse, "nice": args.nice,
           "options": args.options, "snapshot": args.snapshot_dir}
    fallback = None
    if fb is not None:
        fallback = {"name": fb[0], "sizes": fb[1], "limit": args.max_baseline}
        job["fallback"] = fallback
    res.update(size=size_name, sizes=sizes)

    def reset():
        res["cells"] = {c: {"status": "pending", "samples": [], "loads": [], "shares": [],
                            "switches": []} for c in order}
        return set(order)

    remaining = reset()
    for _attempt in range(len(order) + 3):
        if not remaining:
            break
        job["columns"] = [c for c in order if c in remaining]
        job["progress"] = {c: (len(res["cells"][c]["samples"]),
                               sum(res["cells"][c]["samples"])) for c in remaining}
        job["have_output"] = [c for c in remaining if res["cells"][c].get("out")]
        w = Worker(job, log_path)
        current, phase = None, "build"
        while True:
            if current is None or phase == "build":
                deadline = BUILD_DEADLINE
            elif current == "baseline":      # per timed run
                deadline = args.max_baseline + RUN_SLACK
            else:
                tb = median(res["cells"]["baseline"]["samples"]) or args.max_baseline
                deadline = max(args.max_slowdown * tb, MIN_RUN_DEADLINE) + RUN_SLACK
            ev = w.next_event(deadline)
            if ev == "timeout" or ev is None:
                w.kill() if ev == "timeout" else w.close()
                status = "timeout" if ev == "timeout" else "crash"
                if current is None or current == "reference":
                    if current == "reference":
                        res["cells"]["reference"] = {"status": status}
                        remaining.clear()
                        break
                    res["error"] = f"measure.py {status}: " + w.stderr_tail(log_path)
                    return res
                if current == "baseline" and status == "timeout" and phase == "run" \
                        and fallback is not None and res["size"] != fallback["name"]:
                    # LARGE took too long after all: measure everything at MEDIUM instead
                    res["notes"].append(f"{res['size']} untransformed run over "
                                        f"{deadline:.3g} s: used {fallback['name']}")
                    job.update(size_name=fallback["name"], sizes=fallback["sizes"])
                    job.pop("fallback", None)
                    res.update(size=fallback["name"], sizes=fallback["sizes"])
                    remaining = reset()
                    break
                cell = res["cells"][current]
                cell.update(status=status, phase=phase, limit=deadline)
                if status == "crash":
                    cell["error"] = w.stderr_tail(log_path)
                remaining.discard(current)
                if current == "baseline":
                    res["error"] = f"baseline {status} ({phase})"
                    return res
                break
            kind = ev.get("event")
            if kind == "size":
                res.update(size=ev["name"], sizes=ev["sizes"], estimate=ev["estimate"])
                job.update(size_name=ev["name"], sizes=ev["sizes"])
                job.pop("fallback", None)
                if ev["name"] != size_name:
                    res["notes"].append(
                        f"{size_name} untransformed estimated at {ev['estimate']:.3g} s "
                        f"(> {args.max_baseline:g} s): used {ev['name']}")
            elif kind == "meta":
                res.update(tolerance=ev["tolerance"], instances=ev["instances"],
                           polyk_path=ev.get("polyk"))
            elif kind == "build":
                current, phase = ev["column"], "build"
            elif kind == "built":
                cell = res["cells"].setdefault(ev["column"], {})
                cell["build_seconds"] = ev.get("seconds")
                if "omp_loops" in ev:
                    cell["omp_loops"] = ev["omp_loops"]
                current = None
            elif kind == "run":
                current, phase = ev["column"], "run"
            elif kind == "tick":
                cell = res["cells"].setdefault(ev["column"], {"samples": []})
                cell["samples"].append(ev["seconds"])
                for key, field in (("load", "loads"), ("share", "shares"),
                                   ("switches", "switches")):
                    if ev.get(key) is not None:
                        cell.setdefault(field, []).append(ev[key])
                if ev.get("out"):
                    cell["out"] = ev["out"]
                current = None
            elif kind == "done":
                cell = res["cells"].setdefault(ev["column"], {})
                cell.update(status="ok", time=median(cell["samples"]),
                            runs=len(cell["samples"]))
                remaining.discard(ev["column"])
            elif kind == "error":
                cell = res["cells"].setdefault(ev["column"], {})
                cell.update(status="error", phase=ev.get("stage"), error=ev.get("error", ""))
                remaining.discard(ev["column"])
                current = None
                if ev["column"] == "baseline":
                    w.kill()
                    res["error"] = "baseline: " + ev.get("error", "")
                    return res
            elif kind == "fatal":
                w.kill()
                res["error"] = ev.get("error", "") + "\n" + ev.get("trace", "")
                return res
            elif kind == "finished":
                w.close()
                remaining.clear()
                break
    for cell in res["cells"].values():
        if cell.get("status") == "pending":
            cell["status"] = "error"
            cell["error"] = "not measured (too many restarts)"
    compare(res)
    return res


def median(xs):
    return statistics.median(xs) if xs else None


def main(argv=None) -> int:
    args = parse(argv)
    from polyk.kernels import LIBRARY

    if args.kernels:
        names = [n.strip() for n in args.kernels.split(",") if n.strip()]
        unknown = [n for n in names if n not in LIBRARY]
        if unknown:
            print(f"unknown kernel(s): {', '.join(unknown)}; known: {', '.join(LIBRARY)}",
                  file=sys.stderr)
            return 2
    else:
        names = [n for n, s in LIBRARY.items()
                 if args.suite == "all" or getattr(s, "suite", "library") == args.suite]

    clang = None
    if args.polly or args.clang:
        import polly
        clang = polly.find_clang()
        if clang is None:
            print("note: no clang with Polly found (tried clang-16, clang; install with "
                  "'apt-get install clang-16 libomp-16-dev'): Polly columns skipped")
    cols = columns(args, clang)
    info = machine()
    if clang:
        import polly
        info["clang"] = polly.version(clang)
        info["polly"] = (f"{polly.version(clang)}: "
                         + " ".join(polly.base_flags() + polly.POLLY_FLAGS)
                         + " [+ " + " ".join(polly.PARALLEL_FLAGS) + " for polly∥]")
    version = source_version()
    info["polyk"] = version
    print(f"# polyk bench, {info['date']}, {info.get('cpu', '?')} ({info.get('cpus', '?')} "
          f"CPUs), {info.get('cc', '?')}")
    print("# polyk: " + version
          + (f"; options for the rescheduled variants: {args.options}" if args.options else ""))
    print(f"# baseline: identity schedule, target c; columns: speedup = baseline / variant; "
          f"median of {args.repeat} (≤ {args.max_seconds:g} s each)", flush=True)

    signal.signal(signal.SIGTERM, _terminate)
    workdir = tempfile.mkdtemp(prefix="polyk-bench-")
    try:
        args.snapshot_dir = None if args.live else snapshot(workdir)
        return run_all(args, names, LIBRARY, clang, cols, info, workdir)
    finally:
        for w in list(_ACTIVE):
            w.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def run_all(args, names, library, clang, cols, info, workdir) -> int:
    """Measure every kernel, print the table and findings, write the reports."""
    results = []
    t_start = time.perf_counter()
    try:
        for name in names:
            t0 = time.perf_counter()
            r = measure_kernel(name, library[name], args, clang, workdir)
            r["wall"] = time.perf_counter() - t0
            results.append(r)
            base = r.get("cells", {}).get("baseline", {})
            head = f"{name:<16} {r.get('size', '-'):<7}"
            if base.get("status") == "ok":
                cells = "  ".join(f"{label(c)} {ratio_text(r, c)}" for c in cols)
                print(f"{head} baseline {fmt_time(base['time'])}  {cells}  "
                      f"[{r['wall']:.0f} s]", flush=True)
            else:
                print(f"{head} {r.get('skipped') or r.get('error', 'failed')}"[:300],
                      flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: reporting what was measured", file=sys.stderr)
        for w in list(_ACTIVE):
            w.kill()
    total = time.perf_counter() - t_start

    print()
    print(table(results, cols, markdown=False))
    notes = findings(results, cols)
    if notes:
        print()
        print("\n".join(notes))
    print(f"\n{len(results)} kernels in {total:.0f} s; '!' = output differs from the "
          f"baseline's beyond tolerance; '~' = a serial run preempted (< 70% CPU); "
          f"'<x (t/o)' = a run stopped after {args.max_slowdown:g}× the baseline time; "
          "geomean over kernels measured and correct (count in brackets)")

    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(results, cols, args, info, total, notes))
        print(f"wrote {args.markdown}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "columns": cols, "args": vars(args),
                       "results": results}, f, indent=1, default=str)
        print(f"wrote {args.json}")
    bad = any(c.get("match") is False for r in results for c in r.get("cells", {}).values())
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
