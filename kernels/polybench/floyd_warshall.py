"""floyd-warshall (PolyBench/C 4.2, medley): all-pairs shortest path lengths on a weighted
directed graph of N nodes, in place on the integer distance matrix."""

from __future__ import annotations

import numpy as np

import polyk
from polyk import i32

from .._spec import KernelSpec, register

N = polyk.params("N")


@polyk.op
def floyd_warshall(path: i32[N, N]):
    for k in range(N):
        for i in range(N):
            for j in range(N):
                path[i, j] = (path[i, j] if path[i, j] < path[i, k] + path[k, j]
                              else path[i, k] + path[k, j])


def reference(path):
    # with non-negative weights, row k and column k do not change during step k
    for k in range(path.shape[0]):
        np.minimum(path, path[:, k:k + 1] + path[k:k + 1, :], out=path)


@floyd_warshall.inputs
def gen(sizes, rng):
    # weights 1..9 as in PolyBench (i*j % 7 + 1); 999 marks a missing edge (about a quarter
    # of the pairs, and every self loop); a ring i -> i+1 keeps the graph strongly connected
    n = sizes["N"]
    path = rng.integers(1, 10, (n, n))
    path[rng.random((n, n)) < 0.25] = 999
    path[np.diag_indices(n)] = 999
    ring = np.arange(n)
    if n > 1:
        path[ring, (ring + 1) % n] = rng.integers(1, 10, n)
    return {"path": path.astype(np.int32)}


SPEC = register(KernelSpec(
    name="floyd-warshall", op=floyd_warshall, reference=reference, suite="polybench",
    description="Floyd-Warshall all-pairs shortest paths on an int32 distance matrix",
    sizes={
        "python": {"N": 7},
        "test": {"N": 36},
        "test_edge": {"N": 2},   # at N = 1 no path can get shorter
        "mini": {"N": 60},
        "small": {"N": 180},
        "medium": {"N": 500},
        "large": {"N": 2800},
        "bench": {"N": 2800},
    },
))
