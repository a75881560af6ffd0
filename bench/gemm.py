"""gemm against NumPy/OpenBLAS, measured in one run (issue 5's goal: at least 70%).

    python3 bench/gemm.py [--sizes 1024,2048,large] [--dtypes f64,f32] [--threads 1,2]
                          [--repeat 5] [--tile 64,256,128] [--variants default,tuned]

For each shape, element type and thread count: polyk's gemm (the PolyBench op, Pluto,
OpenMP, the given options) and NumPy's ``C *= beta; C += alpha * (A @ B)`` with OpenBLAS
set to the same number of threads, timed in interleaved rounds (one run of each per
round; median of ``--repeat`` rounds) so that the noise of a shared machine falls on both.
GFLOP/s count 2*NI*NJ*NK. The ratio column is polyk / NumPy time-for-time.

OpenBLAS's idle threads spin for 2^28 cycles (about 0.1 s) after each call, long enough to
take a core from the polyk run that follows; OPENBLAS_THREAD_TIMEOUT=4 (its minimum) is set
before NumPy loads so they sleep at once (libgomp's idle threads spin far shorter).

Variants: "default" (tile=True and every other option at its default), "tuned" (the
--tile sizes), "no-pack" and "no-regtile" (ablation: tuned without packing / without
register tiling).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
os.environ.setdefault("OMP_PROC_BIND", "true")      # as bench/run.py: see its docstring
os.environ.setdefault("OMP_PLACES", "cores")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import polyk  # noqa: E402
from polyk import f32, f64  # noqa: E402

NI, NJ, NK = polyk.params("NI NJ NK")


@polyk.op
def gemm_f64(alpha: f64, beta: f64, C: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ]):
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


@polyk.op
def gemm_f32(alpha: f32, beta: f32, C: f32[NI, NJ], A: f32[NI, NK], B: f32[NK, NJ]):
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


OPS = {"f64": gemm_f64, "f32": gemm_f32}
SHAPES = {"1024": (1024, 1024, 1024), "2048": (2048, 2048, 2048),
          "large": (1000, 1100, 1200)}      # PolyBench LARGE: NI, NJ, NK


def _openblas_threads():
    """A setter of NumPy's OpenBLAS thread count (None when it cannot be found)."""
    import numpy
    base = os.path.dirname(numpy.__file__)
    for lib in glob.glob(os.path.join(base, "..", "numpy.libs", "*openblas*")) + \
            glob.glob(os.path.join(base, ".libs", "*openblas*")):
        dll = ctypes.CDLL(lib)
        for fn in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                   "openblas_set_num_threads"):
            if hasattr(dll, fn):
                return getattr(dll, fn)
    return None


def numpy_gemm(alpha, beta, C, A, B):
    C *= beta
    C += alpha * (A @ B)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1024,2048,large")
    ap.add_argument("--dtypes", default="f64,f32")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tile", default="64,256,128")
    ap.add_argument("--variants", default="default,tuned")
    ap.add_argument("--unroll-jam", default=None, help="fu,fv (default: automatic)")
    args = ap.parse_args(argv)
    set_threads = _openblas_threads()
    if set_threads is None:
        print("note: OpenBLAS thread count not settable; NumPy uses its default")
    tile = tuple(int(x) for x in args.tile.split(","))
    uj = tuple(int(x) for x in args.unroll_jam.split(",")) if args.unroll_jam else None
    variants = {
        "default": dict(tile=True),
        "tuned": dict(tile={1: tile}, unroll_jam=uj),
        "no-pack": dict(tile={1: tile}, unroll_jam=uj, pack=False),
        "no-regtile": dict(tile={1: tile}, unroll_jam=False),
    }
    chosen = [v for v in args.variants.split(",")]
    print(f"gemm vs NumPy {np.__version__} (OpenBLAS), {time.strftime('%Y-%m-%d')}, "
          f"{os.uname().nodename}, median of {args.repeat} interleaved rounds")
    print(f"{'shape':>16} {'type':>4} {'thr':>3} {'variant':>10} {'polyk GF/s':>10} "
          f"{'numpy GF/s':>10} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for dt in args.dtypes.split(","):
        op = OPS[dt]
        np_t = np.float32 if dt == "f32" else np.float64
        kernels = {}
        for v in chosen:
            kernels[v] = polyk.generate(op, target="openmp", **variants[v])
        for sname in args.sizes.split(","):
            ni, nj, nk = SHAPES[sname]
            A = rng.uniform(0, 1, (ni, nk)).astype(np_t)
            B = rng.uniform(0, 1, (nk, nj)).astype(np_t)
            C0 = rng.uniform(0, 1, (ni, nj)).astype(np_t)
            alpha, beta = np_t(1.5), np_t(1.2)
            ref = C0.copy()
            numpy_gemm(alpha, beta, ref, A, B)
            for v, k in kernels.items():
                C = C0.copy()
                k(alpha=alpha, beta=beta, C=C, A=A, B=B)
                tol = 1e-3 if dt == "f32" else 1e-10
                err = float(np.max(np.abs(C - ref)) / np.max(np.abs(ref)))
                if err > tol:
                    print(f"WRONG RESULT: {v} {dt} {sname}: relative error {err:.2e}")
            flops = 2.0 * ni * nj * nk
            for th in (int(t) for t in args.threads.split(",")):
                if set_threads is not None:
                    set_threads(th)
                times = {v: [] for v in kernels}
                times["numpy"] = []
                with polyk.openmp_threads(th):
                    for _ in range(args.repeat):
                        for v, k in kernels.items():
                            C = C0.copy()
                            t0 = time.perf_counter()
                            k(alpha=alpha, beta=beta, C=C, A=A, B=B)
                            times[v].append(time.perf_counter() - t0)
                        C = C0.copy()
                        t0 = time.perf_counter()
                        numpy_gemm(alpha, beta, C, A, B)
                        times["numpy"].append(time.perf_counter() - t0)
                tn = statistics.median(times["numpy"])
                for v in kernels:
                    tp = statistics.median(times[v])
                    print(f"{ni}x{nj}x{nk:>5} {dt:>4} {th:>3} {v:>10} {flops / tp / 1e9:10.1f} "
                          f"{flops / tn / 1e9:10.1f} {tn / tp:6.2f}", flush=True)


if __name__ == "__main__":
    main()
