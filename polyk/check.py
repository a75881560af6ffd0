"""``polyk.check``: run a kernel and a NumPy reference on the same inputs and compare."""

from __future__ import annotations

import copy
import inspect

import islpy as isl
import numpy as np

from .errors import MismatchError


def reduction_length(scop, sizes: dict) -> int:
    """How many updates an output element may accumulate, summed over statements: for each
    statement, its number of instances over the number of elements it writes (box estimates
    at the given sizes). Scales the floating-point tolerance."""
    total = 0
    for s in scop.statements:
        dom = _fix(s.domain, sizes)
        if dom.is_empty():
            continue
        n = _box_volume(dom)
        w = s.writes()[0].relation
        img = _fix(w.range(), sizes) if w.range().dim(isl.dim_type.set) else None
        m = _box_volume(img) if img is not None and not img.is_empty() else 1
        total += max(1, n // max(1, m))
    return max(1, total)


def _fix(s, sizes):
    space = s.get_space()
    for k in range(space.dim(isl.dim_type.param)):
        name = space.get_dim_name(isl.dim_type.param, k)
        if name in sizes:
            s = s.fix_val(isl.dim_type.param, k, isl.Val(str(int(sizes[name]))))
    return s


def _box_volume(s) -> int:
    vol = 1
    for k in range(s.dim(isl.dim_type.set)):
        lo, hi = s.dim_min_val(k), s.dim_max_val(k)
        if not (lo.is_int() and hi.is_int()):
            return 1
        vol *= max(1, hi.to_python() - lo.to_python() + 1)
    return vol


def _call_reference(reference, values: dict, params: dict):
    sig = inspect.signature(reference)
    takes_all = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    kw = {k: v for k, v in values.items() if takes_all or k in sig.parameters}
    for p, v in params.items():
        if takes_all or p in sig.parameters:
            kw[p] = v
    reference(**kw)


def check(kernel, reference, sizes: dict | None = None, *, inputs: dict | None = None,
          seed: int = 0, rtol: float | None = None) -> float:
    """Compare ``kernel`` with ``reference`` on the same inputs; return the largest error.

    ``reference(**arguments)`` takes the op's arguments by name (and any parameter it
    names, e.g. ``T``) and updates copies of the arrays in place. Inputs come from the op's
    input generator at ``sizes`` (random by default) unless given. Every written array is
    compared with a tolerance scaled by its dtype and the reduction length (floats: error
    relative to the magnitude of the reference; integers: exact); read-only arrays must come
    back unchanged. Raises ``polyk.MismatchError`` otherwise.
    """
    scop = kernel.scop
    sizes = dict(scop.fixed) | dict(sizes or {})
    if inputs is None:
        inputs = kernel.op.make_inputs(sizes, seed=seed)
    original = copy.deepcopy(inputs)
    k_in = copy.deepcopy(inputs)
    r_in = copy.deepcopy(inputs)
    kernel(**k_in, **sizes)
    _call_reference(reference, r_in, sizes)

    written = scop.written_arrays
    length = reduction_length(scop, sizes)
    worst = 0.0
    for a in scop.args:
        if not a.is_array:
            continue
        got = k_in[a.name]
        if a.name not in written:
            if not np.array_equal(got, original[a.name], equal_nan=True):
                raise MismatchError(f"{kernel.name}: read-only array {a.name} was modified by "
                                    "the kernel")
            continue
        err = _compare(kernel.name, a, got, r_in[a.name], length, rtol)
        worst = max(worst, err)
    return worst


def _compare(name, spec, got, want, length, rtol) -> float:
    if got.shape != want.shape:
        raise MismatchError(f"{name}: {spec.name} has shape {got.shape}, reference "
                            f"{want.shape}")
    if not spec.dtype.is_float:
        bad = got != want
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise MismatchError(f"{name}: {spec.name}{list(idx)} = {got[idx]}, reference "
                                f"{want[idx]} ({int(bad.sum())} of {got.size} elements differ)")
        return 0.0
    eps = float(np.finfo(spec.dtype.np).eps)
    tol = rtol if rtol is not None else 64 * eps * length
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if (nan_g != nan_w).any():
        idx = tuple(int(i) for i in np.argwhere(nan_g != nan_w)[0])
        raise MismatchError(f"{name}: {spec.name}{list(idx)} = {got[idx]}, reference "
                            f"{want[idx]} (NaN in one of them only)")
    ok = ~nan_w
    inf_bad = (np.isinf(w) | np.isinf(g)) & ok & (g != w)
    if inf_bad.any():
        idx = tuple(int(i) for i in np.argwhere(inf_bad)[0])
        raise MismatchError(f"{name}: {spec.name}{list(idx)} = {got[idx]}, reference "
                            f"{want[idx]}")
    fin = ok & np.isfinite(w)
    if not fin.any():
        return 0.0
    scale = max(float(np.mean(np.abs(w[fin]))), np.finfo(np.float64).tiny)
    err = np.zeros_like(w)
    err[fin] = np.abs(g[fin] - w[fin]) / np.maximum(np.abs(w[fin]), scale)
    worst = float(err.max())
    if worst > tol:
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
        n_bad = int((err > tol).sum())
        raise MismatchError(f"{name}: {spec.name}{list(idx)} = {got[idx]!r}, reference "
                            f"{want[idx]!r}: relative error {worst:.3g} > tolerance {tol:.3g} "
                            f"({n_bad} of {got.size} elements beyond it)")
    return worst
