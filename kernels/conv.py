"""Convolution kernels: conv2d (NCHW, valid padding, stride 1) in float32."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import f32

from ._spec import KernelSpec, register

# batch, output channels, input channels, output rows/cols, filter rows/cols;
# the input is (P + R - 1) x (Q + S - 1) so every extent stays affine in the parameters
N, K, C, P, Q, R, S = polyk.params("N K C P Q R S")


# ---------------------------------------------------------------- conv2d
@polyk.op
def conv2d(out: f32[N, K, P, Q], inp: f32[N, C, P + R - 1, Q + S - 1], w: f32[K, C, R, S]):
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for q in range(Q):
                    out[n, k, p, q] = 0.0
                    for c in range(C):
                        for r in range(R):
                            for s in range(S):
                                out[n, k, p, q] += inp[n, c, p + r, q + s] * w[k, c, r, s]


def conv2d_ref(out, inp, w):
    R, S = w.shape[2], w.shape[3]
    win = np.lib.stride_tricks.sliding_window_view(inp, (R, S), axis=(2, 3))  # n c p q r s
    out[...] = np.einsum("ncpqrs,kcrs->nkpq", win, w, optimize=True)


register(KernelSpec(
    name="conv2d", op=conv2d, reference=conv2d_ref,
    sizes={
        "python": {"N": 2, "K": 3, "C": 2, "P": 5, "Q": 6, "R": 3, "S": 2},
        "test": {"N": 2, "K": 6, "C": 5, "P": 20, "Q": 23, "R": 3, "S": 4},
        "test_edge": {"N": 1, "K": 2, "C": 1, "P": 1, "Q": 4, "R": 1, "S": 3},
        "bench": {"N": 8, "K": 64, "C": 64, "P": 56, "Q": 56, "R": 3, "S": 3},
    },
    description="2-D convolution, NCHW, stride 1, no padding: out[n,k,p,q] = sum inp*w (float32)",
))
