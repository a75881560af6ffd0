"""correlation (PolyBench/C 4.2, datamining): the correlation matrix of N observations of M
variables."""

from __future__ import annotations

import math

import numpy as np

import polyk
from polyk import f64

from .._spec import KernelSpec, register

M, N = polyk.params("M N")


@polyk.op
def correlation(float_n: f64, data: f64[N, M], corr: f64[M, M], mean: f64[M], stddev: f64[M]):
    eps = 0.1
    for j in range(M):
        mean[j] = 0.0
        for i in range(N):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for j in range(M):
        stddev[j] = 0.0
        for i in range(N):
            stddev[j] += (data[i, j] - mean[j]) * (data[i, j] - mean[j])
        stddev[j] /= float_n
        stddev[j] = math.sqrt(stddev[j])
        stddev[j] = 1.0 if stddev[j] <= eps else stddev[j]
    for i in range(N):
        for j in range(M):
            data[i, j] -= mean[j]
            data[i, j] /= math.sqrt(float_n) * stddev[j]
    for i in range(M - 1):
        corr[i, i] = 1.0
        for j in range(i + 1, M):
            corr[i, j] = 0.0
            for k in range(N):
                corr[i, j] += data[k, i] * data[k, j]
            corr[j, i] = corr[i, j]
    corr[M - 1, M - 1] = 1.0


def reference(float_n, data, corr, mean, stddev):
    eps = 0.1
    mean[...] = data.sum(axis=0) / float_n
    stddev[...] = np.sqrt(((data - mean) ** 2).sum(axis=0) / float_n)
    stddev[stddev <= eps] = 1.0
    data -= mean
    data /= np.sqrt(float_n) * stddev
    corr[...] = data.T @ data
    np.fill_diagonal(corr, 1.0)


@correlation.inputs
def gen(sizes, rng):
    # PolyBench sets float_n = N; random data (PolyBench's i*j/M + i makes every column an
    # affine function of i, so every correlation would be exactly 1)
    m, n = sizes["M"], sizes["N"]
    return {"float_n": float(n), "data": rng.uniform(0.0, 1.0, (n, m)),
            "corr": rng.uniform(0.0, 1.0, (m, m)), "mean": rng.uniform(0.0, 1.0, m),
            "stddev": rng.uniform(0.0, 1.0, m)}


SPEC = register(KernelSpec(
    name="correlation", op=correlation, reference=reference, suite="polybench",
    description="correlation matrix of the M columns of data (N rows), normalised in place",
    sizes={
        "python": {"M": 5, "N": 7},
        "test": {"M": 28, "N": 36},
        "test_edge": {"M": 2, "N": 1},
        "mini": {"M": 28, "N": 32},
        "small": {"M": 80, "N": 100},
        "medium": {"M": 240, "N": 260},
        "large": {"M": 1200, "N": 1400},
        "bench": {"M": 1200, "N": 1400},
    },
))
