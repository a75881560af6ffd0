"""Dense linear algebra kernels (PolyBench/C 4.2 semantics): gemm, 2mm, atax, bicg, mvt, syrk."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f64

from ._spec import KernelSpec, register

NI, NJ, NK, NL = polyk.params("NI NJ NK NL")
M, N = polyk.params("M N")


# ---------------------------------------------------------------- gemm
@polyk.op
def gemm(alpha: f64, beta: f64, C: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ]):
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


def gemm_ref(alpha, beta, C, A, B):
    C *= beta
    C += alpha * (A @ B)


register(KernelSpec(
    name="gemm", op=gemm, reference=gemm_ref,
    sizes={
        "python": {"NI": 6, "NJ": 7, "NK": 5},
        "test": {"NI": 40, "NJ": 50, "NK": 30},
        "test_edge": {"NI": 1, "NJ": 7, "NK": 1},
        "bench": {"NI": 1024, "NJ": 1024, "NK": 1024},
    },
    description="C := alpha*A*B + beta*C (general matrix multiply)",
))


# ---------------------------------------------------------------- 2mm
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


def mm2_ref(alpha, beta, tmp, A, B, C, D):
    tmp[...] = alpha * (A @ B)
    D *= beta
    D += tmp @ C


register(KernelSpec(
    name="2mm", op=mm2, reference=mm2_ref,
    sizes={
        "python": {"NI": 5, "NJ": 6, "NK": 7, "NL": 4},
        "test": {"NI": 40, "NJ": 50, "NK": 30, "NL": 45},
        "test_edge": {"NI": 1, "NJ": 3, "NK": 1, "NL": 2},
        "bench": {"NI": 800, "NJ": 900, "NK": 1100, "NL": 1200},
    },
    description="D := alpha*A*B*C + beta*D, two chained matrix products through tmp",
))


# ---------------------------------------------------------------- atax
@polyk.op
def atax(A: f64[M, N], x: f64[N], y: f64[N], tmp: f64[M]):
    for i in range(N):
        y[i] = 0.0
    for i in range(M):
        tmp[i] = 0.0
        for j in range(N):
            tmp[i] += A[i, j] * x[j]
        for j in range(N):
            y[j] += A[i, j] * tmp[i]


def atax_ref(A, x, y, tmp):
    tmp[...] = A @ x
    y[...] = A.T @ tmp


register(KernelSpec(
    name="atax", op=atax, reference=atax_ref,
    sizes={
        "python": {"M": 6, "N": 8},
        "test": {"M": 38, "N": 42},
        "test_edge": {"M": 1, "N": 5},
        "bench": {"M": 1900, "N": 2100},
    },
    description="y := A^T (A x), through tmp = A x",
))


# ---------------------------------------------------------------- bicg
@polyk.op
def bicg(A: f64[N, M], s: f64[M], q: f64[N], p: f64[M], r: f64[N]):
    for i in range(M):
        s[i] = 0.0
    for i in range(N):
        q[i] = 0.0
        for j in range(M):
            s[j] += r[i] * A[i, j]
            q[i] += A[i, j] * p[j]


def bicg_ref(A, s, q, p, r):
    s[...] = A.T @ r
    q[...] = A @ p


register(KernelSpec(
    name="bicg", op=bicg, reference=bicg_ref,
    sizes={
        "python": {"M": 6, "N": 8},
        "test": {"M": 38, "N": 42},
        "test_edge": {"M": 4, "N": 1},
        "bench": {"M": 1900, "N": 2100},
    },
    description="BiCG sub-kernel: s := A^T r and q := A p",
))


# ---------------------------------------------------------------- mvt
@polyk.op
def mvt(x1: f64[N], x2: f64[N], y_1: f64[N], y_2: f64[N], A: f64[N, N]):
    for i in range(N):
        for j in range(N):
            x1[i] += A[i, j] * y_1[j]
    for i in range(N):
        for j in range(N):
            x2[i] += A[j, i] * y_2[j]


def mvt_ref(x1, x2, y_1, y_2, A):
    x1 += A @ y_1
    x2 += A.T @ y_2


register(KernelSpec(
    name="mvt", op=mvt, reference=mvt_ref,
    sizes={
        "python": {"N": 7},
        "test": {"N": 53},
        "test_edge": {"N": 1},
        "bench": {"N": 2000},
    },
    description="x1 += A y_1 and x2 += A^T y_2 (matrix-vector products, both orientations)",
))


# ---------------------------------------------------------------- syrk
@polyk.op
def syrk(alpha: f64, beta: f64, C: f64[N, N], A: f64[N, M]):
    for i in range(N):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(M):
            for j in range(i + 1):
                C[i, j] += alpha * A[i, k] * A[j, k]


def syrk_ref(alpha, beta, C, A):
    low = np.tril(np.ones(C.shape, dtype=bool))
    C[low] = (beta * C + alpha * (A @ A.T))[low]


register(KernelSpec(
    name="syrk", op=syrk, reference=syrk_ref,
    sizes={
        "python": {"N": 7, "M": 5},
        "test": {"N": 45, "M": 33},
        "test_edge": {"N": 1, "M": 3},
        "bench": {"N": 1200, "M": 1000},
    },
    description="C := alpha*A*A^T + beta*C on the lower triangle (symmetric rank-k update)",
))
