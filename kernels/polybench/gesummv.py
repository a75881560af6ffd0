"""gesummv (PolyBench/C 4.2, linear-algebra/blas): y := alpha*A*x + beta*B*x."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def gesummv(alpha: f64, beta: f64, A: f64[N, N], B: f64[N, N], tmp: f64[N], x: f64[N],
            y: f64[N]):
    for i in range(N):
        tmp[i] = 0.0
        y[i] = 0.0
        for j in range(N):
            tmp[i] = A[i, j] * x[j] + tmp[i]
            y[i] = B[i, j] * x[j] + y[i]
        y[i] = alpha * tmp[i] + beta * y[i]


def reference(alpha, beta, A, B, tmp, x, y):
    tmp[...] = A @ x
    y[...] = alpha * tmp + beta * (B @ x)


@gesummv.inputs
def gen(sizes, rng):
    # PolyBench's alpha and beta; random matrices and x in [0, 1)
    n = sizes["N"]
    return {"alpha": 1.5, "beta": 1.2, "A": rng.uniform(0.0, 1.0, (n, n)),
            "B": rng.uniform(0.0, 1.0, (n, n)), "tmp": rng.uniform(0.0, 1.0, n),
            "x": rng.uniform(0.0, 1.0, n), "y": rng.uniform(0.0, 1.0, n)}


SPEC = register(KernelSpec(
    name="gesummv", op=gesummv, reference=reference, suite="polybench",
    description="y := alpha*A*x + beta*B*x (sum of two matrix-vector products), tmp := A*x",
    sizes={
        "python": {"N": 6},
        "test": {"N": 37},
        "test_edge": {"N": 1},
        "mini": {"N": 30},
        "small": {"N": 90},
        "medium": {"N": 250},
        "large": {"N": 1300},
        "bench": {"N": 1300},
    },
))
