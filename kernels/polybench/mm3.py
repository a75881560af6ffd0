"""3mm (PolyBench/C 4.2, linear-algebra/kernels): three matrix products,
G := (A*B)*(C*D) through E := A*B and F := C*D."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

NI, NJ, NK, NL, NM = polyk.params("NI NJ NK NL NM")


@polyk.op
def mm3(E: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ], F: f64[NJ, NL], C: f64[NJ, NM],
        D: f64[NM, NL], G: f64[NI, NL]):
    for i in range(NI):
        for j in range(NJ):
            E[i, j] = 0.0
            for k in range(NK):
                E[i, j] += A[i, k] * B[k, j]
    for i in range(NJ):
        for j in range(NL):
            F[i, j] = 0.0
            for k in range(NM):
                F[i, j] += C[i, k] * D[k, j]
    for i in range(NI):
        for j in range(NL):
            G[i, j] = 0.0
            for k in range(NJ):
                G[i, j] += E[i, k] * F[k, j]


def reference(E, A, B, F, C, D, G):
    E[...] = A @ B
    F[...] = C @ D
    G[...] = E @ F


@mm3.inputs
def gen(sizes, rng):
    # random inputs in [0, 1); E, F and G are overwritten (random too, so that a
    # missing initialisation shows)
    ni, nj, nk, nl, nm = (sizes[p] for p in ("NI", "NJ", "NK", "NL", "NM"))
    return {"E": rng.uniform(0.0, 1.0, (ni, nj)), "A": rng.uniform(0.0, 1.0, (ni, nk)),
            "B": rng.uniform(0.0, 1.0, (nk, nj)), "F": rng.uniform(0.0, 1.0, (nj, nl)),
            "C": rng.uniform(0.0, 1.0, (nj, nm)), "D": rng.uniform(0.0, 1.0, (nm, nl)),
            "G": rng.uniform(0.0, 1.0, (ni, nl))}


SPEC = register(KernelSpec(
    name="3mm", op=mm3, reference=reference, suite="polybench",
    description="G := (A*B)*(C*D), three matrix products through E := A*B and F := C*D",
    sizes={
        "python": {"NI": 4, "NJ": 5, "NK": 6, "NL": 7, "NM": 5},
        "test": {"NI": 20, "NJ": 24, "NK": 28, "NL": 32, "NM": 26},
        "test_edge": {"NI": 1, "NJ": 2, "NK": 1, "NL": 3, "NM": 1},
        "mini": {"NI": 16, "NJ": 18, "NK": 20, "NL": 22, "NM": 24},
        "small": {"NI": 40, "NJ": 50, "NK": 60, "NL": 70, "NM": 80},
        "medium": {"NI": 180, "NJ": 190, "NK": 200, "NL": 210, "NM": 220},
        "large": {"NI": 800, "NJ": 900, "NK": 1000, "NL": 1100, "NM": 1200},
        "bench": {"NI": 800, "NJ": 900, "NK": 1000, "NL": 1100, "NM": 1200},
    },
))
