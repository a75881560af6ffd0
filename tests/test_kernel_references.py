"""Each library kernel's NumPy reference computes what its loop nest computes (run as Python)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from polyk.kernels import LIBRARY

SIZE_SETS = ("python", "test_edge")
CASES = [(name, which) for name in LIBRARY for which in SIZE_SETS]


def free_params(op) -> list[str]:
    """Parameters that no array shape determines (time steps): passed by keyword."""
    return [p for p in op.params
            if not any(p in d.coeffs for a in op.args if a.is_array for d in a.shape)]


def copy_args(inp: dict) -> dict:
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in inp.items()}


def tolerance(arr: np.ndarray) -> dict:
    if arr.dtype == np.float32:
        return {"rtol": 1e-4, "atol": 1e-5}
    if np.issubdtype(arr.dtype, np.floating):
        return {"rtol": 1e-9, "atol": 1e-12}
    return {"rtol": 0, "atol": 0}


def test_library_is_populated():
    for name in ("gemm", "2mm", "atax", "bicg", "mvt", "syrk",
                 "jacobi-2d", "seidel-2d", "fdtd-2d", "conv2d"):
        assert name in LIBRARY
    for spec in LIBRARY.values():
        assert spec.description and "\n" not in spec.description
        assert {"python", "test", "test_edge", "bench"} <= set(spec.sizes)
        for sizes in spec.sizes.values():
            assert set(sizes) == set(spec.op.params), spec.name
            assert all(isinstance(v, int) and v >= 1 for v in sizes.values()), spec.name


@pytest.mark.parametrize("name,which", CASES, ids=[f"{n}-{w}" for n, w in CASES])
def test_reference_matches_op(name, which):
    spec = LIBRARY[name]
    sizes = spec.sizes[which]
    inp = spec.op.make_inputs(sizes, seed=zlib.crc32(f"{name}/{which}".encode()))
    kw = {p: sizes[p] for p in free_params(spec.op)}

    by_op, by_ref = copy_args(inp), copy_args(inp)
    spec.op(**by_op, **kw)
    spec.reference(**by_ref, **kw)

    arrays = [a.name for a in spec.op.args if a.is_array]
    changed = False
    for a in arrays:
        assert by_ref[a].dtype == inp[a].dtype and by_ref[a].shape == inp[a].shape, a
        np.testing.assert_allclose(by_op[a], by_ref[a], err_msg=f"{name} {which}: {a}",
                                   **tolerance(inp[a]))
        changed |= not np.array_equal(by_ref[a], inp[a])
    assert changed, f"the reference of {name} changed no array at {which} sizes {sizes}"
