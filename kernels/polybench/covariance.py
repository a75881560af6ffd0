"""covariance (PolyBench/C 4.2, datamining): the covariance matrix of N observations of M
variables."""

from __future__ import annotations

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def covariance(float_n: f64, data: f64[N, M], cov: f64[M, M], mean: f64[M]):
    for j in range(M):
        mean[j] = 0.0
        for i in range(N):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for i in range(N):
        for j in range(M):
            data[i, j] -= mean[j]
    for i in range(M):
        for j in range(i, M):
            cov[i, j] = 0.0
            for k in range(N):
                cov[i, j] += data[k, i] * data[k, j]
            cov[i, j] /= float_n - 1.0
            cov[j, i] = cov[i, j]


def reference(float_n, data, cov, mean):
    mean[...] = data.sum(axis=0) / float_n
    data -= mean
    cov[...] = (data.T @ data) / (float_n - 1.0)


@covariance.inputs
def gen(sizes, rng):
    # PolyBench sets float_n = N; random data in [0, 1)
    m, n = sizes["M"], sizes["N"]
    return {"float_n": float(n), "data": rng.uniform(0.0, 1.0, (n, m)),
            "cov": rng.uniform(0.0, 1.0, (m, m)), "mean": rng.uniform(0.0, 1.0, m)}


SPEC = register(KernelSpec(
    name="covariance", op=covariance, reference=reference, suite="polybench",
    description="covariance matrix of the M columns of data (N rows, centred in place)",
    sizes={
        "python": {"M": 5, "N": 7},
        "test": {"M": 28, "N": 36},
        # N = 1 divides 0 by float_n - 1 = 0 (NaN everywhere): N = 2 is the least useful N
        "test_edge": {"M": 1, "N": 2},
        "mini": {"M": 28, "N": 32},
        "small": {"M": 80, "N": 100},
        "medium": {"M": 240, "N": 260},
        "large": {"M": 1200, "N": 1400},
        "bench": {"M": 1200, "N": 1400},
    },
))
