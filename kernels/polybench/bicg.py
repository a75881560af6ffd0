"""bicg (PolyBench/C 4.2, linear-algebra/kernels): the BiCGStab sub-kernel,
s := A^T*r and q := A*p."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N, M = polyk.params("N M")


@polyk.op
def bicg(A: f64[N, M], s: f64[M], q: f64[N], p: f64[M], r: f64[N]):
    for i in range(M):
        s[i] = 0.0
    for i in range(N):
        q[i] = 0.0
        for j in range(M):
            s[j] = s[j] + r[i] * A[i, j]
            q[i] = q[i] + A[i, j] * p[j]


def reference(A, s, q, p, r):
    s[...] = A.T @ r
    q[...] = A @ p


@bicg.inputs
def gen(sizes, rng):
    # random A, p and r in [0, 1); s and q are overwritten (random too)
    n, m = sizes["N"], sizes["M"]
    return {"A": rng.uniform(0.0, 1.0, (n, m)), "s": rng.uniform(0.0, 1.0, m),
            "q": rng.uniform(0.0, 1.0, n), "p": rng.uniform(0.0, 1.0, m),
            "r": rng.uniform(0.0, 1.0, n)}


SPEC = register(KernelSpec(
    name="bicg", op=bicg, reference=reference, suite="polybench",
    description="BiCG sub-kernel: s := A^T r and q := A p",
    sizes={
        "python": {"N": 8, "M": 6},
        "test": {"N": 30, "M": 36},
        "test_edge": {"N": 1, "M": 4},
        "mini": {"N": 42, "M": 38},
        "small": {"N": 124, "M": 116},
        "medium": {"N": 410, "M": 390},
        "large": {"N": 2100, "M": 1900},
        "bench": {"N": 2100, "M": 1900},
    },
))
