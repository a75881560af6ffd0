"""The results of bench/run.py: output comparisons, tables, findings, the Markdown report."""

from __future__ import annotations

import math
import statistics
import sys

import numpy as np


def label(col: str) -> str:
    kind, _, n = col.partition(":")
    if kind == "polly":
        return "polly"
    if kind == "polly-par":
        return f"polly∥ {n}t"
    if kind == "clang":
        return "clang"
    if "+target=c" in kind:
        return kind.replace("+target=c", "") + " C"
    return f"{kind} {n}t"


def compare(res: dict) -> None:
    """Each variant's outputs against the baseline's: np.allclose with the tolerance."""
    base = res["cells"].get("baseline", {})
    if base.get("status") != "ok":
        return
    tol = res.get("tolerance", 1e-12)
    with np.load(base["out"]) as b:
        want = {k: b[k] for k in b.files}
    for col, cell in res["cells"].items():
        if col == "baseline" or cell.get("status") != "ok":
            continue
        with np.load(cell["out"]) as g:
            got = {k: g[k] for k in g.files}
        worst, bitwise, ok = 0.0, True, True
        for arr, w in want.items():
            v = got.get(arr)
            if v is None or v.shape != w.shape:
                ok = False
                continue
            if not np.array_equal(v, w, equal_nan=True):
                bitwise = False
            if np.issubdtype(w.dtype, np.floating):
                wf, vf = w.astype(np.float64), v.astype(np.float64)
                fin = np.isfinite(wf)
                scale = float(np.mean(np.abs(wf[fin]))) if fin.any() else 1.0
                if not np.allclose(vf, wf, rtol=tol, atol=tol * scale, equal_nan=True):
                    ok = False
                d = np.abs(vf - wf)[fin] / np.maximum(np.abs(wf[fin]), max(scale, 1e-300))
                if d.size:
                    worst = max(worst, float(np.nanmax(d)) if not np.isnan(d).all() else 0.0)
            elif not np.array_equal(v, w):
                ok = False
        cell.update(match=ok, bitwise=bitwise, max_rel_err=worst)


def ratio_text(res, col) -> str:
    cell = res["cells"].get(col)
    base = res["cells"].get("baseline", {})
    if cell is None:
        return "-"
    st = cell.get("status")
    if st == "ok":
        r = base["time"] / cell["time"]
        noisy = preempted(base, "baseline") or preempted(cell, col)
        return (f"{r:.2f}×" + ("~" if noisy else "")
                + ("" if cell.get("match", True) else " !"))
    if st == "timeout" and cell.get("phase") == "run":
        return f"<{base['time'] / cell['limit']:.2f}× (t/o)"
    return {"timeout": "t/o", "crash": "crash", "error": "error"}.get(st, "?")


def preempted(cell, col) -> bool:
    """A serial run that had the CPU less than 70% of its wall time (median over runs):
    another process took it."""
    if not col.endswith(":1") and col != "baseline" and col != "polly:1":
        return False
    shares = cell.get("shares") or []
    return bool(shares) and statistics.median(shares) < 0.7


def speedup(res, col):
    cell = res["cells"].get(col, {})
    base = res["cells"].get("baseline", {})
    if cell.get("status") == "ok" and base.get("status") == "ok" and cell.get("match", True):
        return base["time"] / cell["time"]
    return None


def time_of(res, col):
    """A column's median time where it was measured and correct, else None."""
    cell = res.get("cells", {}).get(col, {})
    if cell.get("status") == "ok" and cell.get("match", True):
        return cell["time"]
    return None


def fmt_time(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def table(results, cols, markdown: bool) -> str:
    heads = ["kernel", "size", "baseline"] + [label(c) for c in cols]
    rows = []
    for r in results:
        base = r.get("cells", {}).get("baseline", {})
        if r.get("skipped") or base.get("status") != "ok":
            why = r.get("skipped") or (r.get("error") or "baseline failed").splitlines()[0][:60]
            rows.append([r["kernel"], r.get("size", "-"), why] + ["-"] * len(cols))
            continue
        rows.append([r["kernel"], r["size"], fmt_time(base["time"])]
                    + [ratio_text(r, c) for c in cols])
    gm = ["geomean", "", ""]
    for c in cols:
        vals = [s for s in (speedup(r, c) for r in results) if s]
        gm.append(f"{math.exp(sum(map(math.log, vals)) / len(vals)):.2f}× ({len(vals)})"
                  if vals else "-")
    rows.append(gm)
    if markdown:
        out = ["| " + " | ".join(heads) + " |",
               "| " + " | ".join(["---"] * 2 + ["---:"] * (len(heads) - 2)) + " |"]
        for i, row in enumerate(rows):
            if i == len(rows) - 1:
                row = [f"**{x}**" if x else x for x in row]
            out.append("| " + " | ".join(row) + " |")
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = lambda r: "  ".join(x.ljust(w) if i < 2 else x.rjust(w)  # noqa: E731
                               for i, (x, w) in enumerate(zip(r, widths)))
    out = [line(heads), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[:-1]] + ["  ".join("-" * w for w in widths), line(rows[-1])]
    return "\n".join(out)


NOISE = 0.95        # speedups in [0.95, 1) are listed apart: within this machine's noise


def findings(results, cols) -> list[str]:
    """Slower-than-baseline kernels, mismatches, failures, size fallbacks."""
    lines = []
    for c in cols:
        slow, close = [], []
        for r in results:
            s = speedup(r, c)
            cell = r.get("cells", {}).get(c, {})
            if s is not None and s < NOISE:
                slow.append(f"{r['kernel']} {s:.2f}×")
            elif s is not None and s < 1.0:
                close.append(f"{r['kernel']} {s:.3f}×")
            elif cell.get("status") == "timeout" and cell.get("phase") == "run":
                slow.append(f"{r['kernel']} {ratio_text(r, c)}")
        if slow or close:
            lines.append(f"slower than the baseline with {label(c)} ({len(slow) + len(close)}): "
                         + (", ".join(slow) or "none by more than 5%")
                         + (f"; within 5%: {', '.join(close)}" if close else ""))
    for c in cols:                          # polyk against Polly at the same thread count
        kind, _, n = c.partition(":")
        if kind in ("polly", "polly-par", "clang", "baseline"):
            continue
        rival = "polly:1" if n == "1" else f"polly-par:{n}"
        if rival not in cols:
            continue
        lost = []
        for r in results:
            mine, theirs = time_of(r, c), time_of(r, rival)
            if mine is not None and theirs is not None and mine > theirs:
                lost.append(f"{r['kernel']} {theirs / mine:.2f}×")
            elif mine is None and theirs is not None:
                lost.append(f"{r['kernel']} ({ratio_text(r, c)})")
        if lost:
            lines.append(f"{label(c)} slower than {label(rival)} ({len(lost)}; polyk speed "
                         f"relative to Polly): " + ", ".join(lost))
    for r in results:
        for c, cell in r.get("cells", {}).items():
            if cell.get("status") == "ok" and cell.get("match") is False:
                lines.append(f"MISMATCH {r['kernel']} {label(c) if c != 'reference' else c}: "
                             f"max relative error {cell['max_rel_err']:.3g} > tolerance "
                             f"{r['tolerance']:.3g}")
            elif cell.get("status") in ("error", "crash") or (
                    cell.get("status") == "timeout" and cell.get("phase") != "run"):
                err = (cell.get("error") or "").strip().splitlines()
                lines.append(f"{cell['status'].upper()} {r['kernel']} {label(c)} "
                             f"({cell.get('phase')}): {err[-1][:200] if err else ''}")
        if r.get("error"):
            lines.append(f"FAILED {r['kernel']}: {r['error'].strip().splitlines()[0][:300]}")
        for n in r.get("notes", []):
            lines.append(f"{r['kernel']}: {n}")
    return lines


def sizes_text(results) -> list[str]:
    return [f"{r['kernel']}: {r['size']} "
            + " ".join(f"{k}={v}" for k, v in (r.get("sizes") or {}).items())
            for r in results if r.get("size")]


def markdown_report(results, cols, args, info, total, notes) -> str:
    """docs/performance.md material: method line, versions, the table, sizes, findings."""
    lines = [f"Measured {info['date']} on {info.get('cpu', '?')} ({info.get('cpus', '?')} "
             f"CPUs, L2 {info.get('l2', '?')}, L3 {info.get('l3', '?')}), {info.get('cc', '?')}, "
             f"flags `{info.get('flags', '')}`.",
             "",
             f"`python3 bench/run.py {' '.join(sys.argv[1:])}` — {len(results)} kernels in "
             f"{total:.0f} s; median of {args.repeat} runs (fewer past {args.max_seconds:g} s); "
             "cells are speedups over the baseline (baseline time / time); "
             "`!` marks an output that differs from the baseline's beyond tolerance; `~` a "
             "serial time whose runs had the CPU less than 70% of the time; `<x (t/o)` a "
             f"run stopped after {args.max_slowdown:g}× the baseline time (+15 s).",
             ""]
    lines += [f"polyk: {info.get('polyk', '?')}"
              + (" (measured from a copy taken at the start)" if args.snapshot_dir else "")
              + (f"; options of the rescheduled variants: `{args.options}`" if args.options
                 else "") + ".", ""]
    if info.get("polly"):
        lines += [f"Polly: {info['polly']}.", ""]
    lines += [table(results, cols, markdown=True), ""]
    lines += ["Sizes: " + "; ".join(sizes_text(results)) + ".", ""]
    if notes:
        lines += ["Findings:", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
