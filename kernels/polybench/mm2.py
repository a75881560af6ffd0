"""2mm (PolyBench/C 4.2, linear-algebra/kernels): two chained matrix products,
D := alpha*A*B*C + beta*D through tmp := alpha*A*B."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

NI, NJ, NK, NL = polyk.params("NI NJ NK NL")


@polyk.op
def mm2(alpha: f64, beta: f64, tmp: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ],
        C: f64[NJ, NL], D: f64[NI, NL]):
    for i in range(NI):
        for j in range(NJ):
            tmp[i, j] = 0.0
            for k in range(NK):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i in range(NI):
        for j in range(NL):
            D[i, j] *= beta
            for k in range(NJ):
                D[i, j] += tmp[i, k] * C[k, j]


def reference(alpha, beta, tmp, A, B, C, D):
    tmp[...] = alpha * (A @ B)
    D *= beta
    D += tmp @ C


@mm2.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random matrices in [0, 1)
    ni, nj, nk, nl = sizes["NI"], sizes["NJ"], sizes["NK"], sizes["NL"]
    return {"alpha": 1.5, "beta": 1.2, "tmp": rng.uniform(0.0, 1.0, (ni, nj)),
            "A": rng.uniform(0.0, 1.0, (ni, nk)), "B": rng.uniform(0.0, 1.0, (nk, nj)),
            "C": rng.uniform(0.0, 1.0, (nj, nl)), "D": rng.uniform(0.0, 1.0, (ni, nl))}


SPEC = register(KernelSpec(
    name="2mm", op=mm2, reference=reference, suite="polybench",
    description="D := alpha*A*B*C + beta*D, two chained matrix products through tmp",
    sizes={
        "python": {"NI": 5, "NJ": 6, "NK": 7, "NL": 4},
        "test": {"NI": 24, "NJ": 28, "NK": 34, "NL": 30},
        "test_edge": {"NI": 1, "NJ": 3, "NK": 1, "NL": 2},
        "mini": {"NI": 16, "NJ": 18, "NK": 22, "NL": 24},
        "small": {"NI": 40, "NJ": 50, "NK": 70, "NL": 80},
        "medium": {"NI": 180, "NJ": 190, "NK": 210, "NL": 220},
        "large": {"NI": 800, "NJ": 900, "NK": 1100, "NL": 1200},
        "bench": {"NI": 800, "NJ": 900, "NK": 1100, "NL": 1200},
    },
))
