"""doitgen (PolyBench/C 4.2, linear-algebra/kernels): multiresolution analysis kernel,
A[r, q, :] := A[r, q, :] * C4 for every (r, q), through the vector sum."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

NR, NQ, NP = polyk.params("NR NQ NP")


@polyk.op
def doitgen(A: f64[NR, NQ, NP], C4: f64[NP, NP], sum: f64[NP]):
    for r in range(NR):
        for q in range(NQ):
            for p in range(NP):
                sum[p] = 0.0
                for s in range(NP):
                    sum[p] += A[r, q, s] * C4[s, p]
            for p in range(NP):
                A[r, q, p] = sum[p]


def reference(A, C4, sum):
    A[...] = A @ C4
    sum[...] = A[-1, -1, :]          # what the last (r, q) left in it


@doitgen.inputs
def gen(sizes, rng):
    # random A and C4 in [0, 1); sum is overwritten (random too)
    nr, nq, np_ = sizes["NR"], sizes["NQ"], sizes["NP"]
    return {"A": rng.uniform(0.0, 1.0, (nr, nq, np_)), "C4": rng.uniform(0.0, 1.0, (np_, np_)),
            "sum": rng.uniform(0.0, 1.0, np_)}


SPEC = register(KernelSpec(
    name="doitgen", op=doitgen, reference=reference, suite="polybench",
    description="A[r,q,:] := A[r,q,:] C4 for all r, q (multiresolution analysis kernel)",
    sizes={
        "python": {"NR": 4, "NQ": 5, "NP": 6},
        "test": {"NR": 24, "NQ": 20, "NP": 28},
        "test_edge": {"NR": 1, "NQ": 2, "NP": 1},
        "mini": {"NR": 10, "NQ": 8, "NP": 12},
        "small": {"NR": 25, "NQ": 20, "NP": 30},
        "medium": {"NR": 50, "NQ": 40, "NP": 60},
        "large": {"NR": 150, "NQ": 140, "NP": 160},
        "bench": {"NR": 150, "NQ": 140, "NP": 160},
    },
))
