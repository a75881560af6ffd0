"""deriche (PolyBench/C 4.2, medley): Deriche's recursive edge-detection filter on a W x H
single-precision image, a causal and an anti-causal first-order-pair recursion along each
row, then along each column."""

from __future__ import annotations

import math

import numpy as np

import polyk
from polyk import f32

from .._spec import KernelSpec, register

W, H = polyk.params("W H")


# PolyBench computes the filter coefficients inside the scop with chained assignments
# (a1 = a5 = k; ...); an op assigns one target at a time, so each is two assignments.
# PolyBench 4.2's coefficients (b1 = 2^-alpha, exp(2 alpha) in k) are kept as they are.
@polyk.op
def deriche(alpha: f32, imgIn: f32[W, H], imgOut: f32[W, H], y1: f32[W, H], y2: f32[W, H]):
    k = ((1.0 - math.exp(-alpha)) * (1.0 - math.exp(-alpha))
         / (1.0 + 2.0 * alpha * math.exp(-alpha) - math.exp(2.0 * alpha)))
    a1 = k
    a5 = a1
    a2 = k * math.exp(-alpha) * (alpha - 1.0)
    a6 = a2
    a3 = k * math.exp(-alpha) * (alpha + 1.0)
    a7 = a3
    a4 = -k * math.exp(-2.0 * alpha)
    a8 = a4
    b1 = math.pow(2.0, -alpha)
    b2 = -math.exp(-2.0 * alpha)
    c1 = np.float32(1)
    c2 = c1

    for i in range(W):
        ym1 = 0.0
        ym2 = 0.0
        xm1 = 0.0
        for j in range(H):
            y1[i, j] = a1 * imgIn[i, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
            xm1 = imgIn[i, j]
            ym2 = ym1
            ym1 = y1[i, j]

    for i in range(W):
        yp1 = 0.0
        yp2 = 0.0
        xp1 = 0.0
        xp2 = 0.0
        for j in range(H - 1, -1, -1):
            y2[i, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
            xp2 = xp1
            xp1 = imgIn[i, j]
            yp2 = yp1
            yp1 = y2[i, j]

    for i in range(W):
        for j in range(H):
            imgOut[i, j] = c1 * (y1[i, j] + y2[i, j])

    for j in range(H):
        tm1 = 0.0
        ym1 = 0.0
        ym2 = 0.0
        for i in range(W):
            y1[i, j] = a5 * imgOut[i, j] + a6 * tm1 + b1 * ym1 + b2 * ym2
            tm1 = imgOut[i, j]
            ym2 = ym1
            ym1 = y1[i, j]

    for j in range(H):
        tp1 = 0.0
        tp2 = 0.0
        yp1 = 0.0
        yp2 = 0.0
        for i in range(W - 1, -1, -1):
            y2[i, j] = a7 * tp1 + a8 * tp2 + b1 * yp1 + b2 * yp2
            tp2 = tp1
            tp1 = imgOut[i, j]
            yp2 = yp1
            yp1 = y2[i, j]

    for i in range(W):
        for j in range(H):
            imgOut[i, j] = c2 * (y1[i, j] + y2[i, j])


def _recursions(x, y1, y2, a1, a2, a3, a4, b1, b2):
    """The causal pass into y1 and the anti-causal pass into y2 along axis 1 of x, as the
    loop nest computes them (same operation order), vectorised over axis 0."""
    n, m = x.shape
    zero = np.zeros(n, np.float32)
    xm1, ym1, ym2 = zero, zero, zero
    for j in range(m):
        y1[:, j] = a1 * x[:, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
        xm1, ym2, ym1 = x[:, j].copy(), ym1, y1[:, j].copy()
    xp1, xp2, yp1, yp2 = zero, zero, zero, zero
    for j in range(m - 1, -1, -1):
        y2[:, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
        xp2, xp1, yp2, yp1 = xp1, x[:, j].copy(), yp1, y2[:, j].copy()


def reference(alpha, imgIn, imgOut, y1, y2):
    alpha = np.float32(alpha)
    k = ((1.0 - np.exp(-alpha)) * (1.0 - np.exp(-alpha))
         / (1.0 + 2.0 * alpha * np.exp(-alpha) - np.exp(2.0 * alpha)))
    a1 = k
    a2 = k * np.exp(-alpha) * (alpha - 1.0)
    a3 = k * np.exp(-alpha) * (alpha + 1.0)
    a4 = -k * np.exp(-2.0 * alpha)
    b1 = np.power(np.float32(2.0), -alpha)
    b2 = -np.exp(-2.0 * alpha)
    # rows (along j), then columns (along i: the same recursions on the transposes)
    _recursions(imgIn, y1, y2, a1, a2, a3, a4, b1, b2)
    imgOut[...] = y1 + y2
    _recursions(imgOut.T, y1.T, y2.T, a1, a2, a3, a4, b1, b2)
    imgOut[...] = y1 + y2


@deriche.inputs
def gen(sizes, rng):
    # alpha = 0.25 as in PolyBench; grey-level pixels in [0, 1); outputs start at 0
    w, h = sizes["W"], sizes["H"]
    z = np.zeros((w, h), np.float32)
    return {"alpha": np.float32(0.25),
            "imgIn": rng.uniform(0.0, 1.0, (w, h)).astype(np.float32),
            "imgOut": z.copy(), "y1": z.copy(), "y2": z.copy()}


SPEC = register(KernelSpec(
    name="deriche", op=deriche, reference=reference, suite="polybench",
    description="Deriche recursive edge-detection filter (float32): row then column recursions",
    sizes={
        "python": {"W": 6, "H": 5},
        "test": {"W": 37, "H": 29},
        "test_edge": {"W": 1, "H": 3},
        "mini": {"W": 64, "H": 64},
        "small": {"W": 192, "H": 128},
        "medium": {"W": 720, "H": 480},
        "large": {"W": 4096, "H": 2160},
        "bench": {"W": 4096, "H": 2160},
    },
))
