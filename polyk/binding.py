"""Binding call arguments to an op's signature: the one place call-time checks live.

Shared by a compiled kernel's call and by running the op as plain Python, so both accept
exactly the same arguments: positional in signature order or by name; parameters by name,
keyword-only, taken from array shapes where a shape names them; arrays never cast, copied or
made contiguous; arrays that are written may not share memory with any other argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import islpy as isl
import numpy as np


@dataclass
class Bound:
    values: dict      # argument name -> array or scalar converted to its declared type
    params: dict      # parameter name -> int


def bind_arguments(prog, args: tuple, kwargs: dict, *, context: isl.Set,
                   fixed: dict | None = None, written: set | None = None,
                   is_array=lambda x: isinstance(x, np.ndarray)) -> Bound:
    """Check and bind ``args``/``kwargs``; raise ``TypeError``/``ValueError`` on a mismatch."""
    specs = list(prog.args)
    names = [a.name for a in specs]
    if len(args) > len(specs):
        raise TypeError(f"{prog.name}() takes {len(specs)} positional argument(s) "
                        f"({', '.join(names)}) but {len(args)} were given")
    given = dict(zip(names, args))
    explicit_params = {}
    for k, v in kwargs.items():
        if k in given:
            raise TypeError(f"{prog.name}() got argument {k!r} twice")
        if k in names:
            given[k] = v
        elif k in prog.params:
            explicit_params[k] = v
        else:
            raise TypeError(f"{prog.name}() got an unexpected argument {k!r}; arguments: "
                            f"{', '.join(names)}; parameters: {', '.join(prog.params) or 'none'}")
    missing = [n for n in names if n not in given]
    if missing:
        raise TypeError(f"{prog.name}() is missing argument(s): {', '.join(missing)}")
    written = written if written is not None else prog.written

    values = {}
    for spec in specs:
        v = given[spec.name]
        if spec.is_array:
            values[spec.name] = _check_array(prog, spec, v, spec.name in written, is_array)
        else:
            values[spec.name] = _scalar(spec, v)

    params = {}
    for k, v in explicit_params.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"parameter {k} must be an integer, got {v!r}")
        if not -2**63 <= int(v) < 2**63:
            raise ValueError(f"parameter {k}={v} does not fit in the 64-bit integers of the "
                             "generated code")
        params[k] = int(v)
    _params_from_shapes(prog, specs, values, params)
    for p, v in (fixed or {}).items():
        if params.setdefault(p, v) != v:
            raise ValueError(f"this kernel was specialised for {p}={v} (sizes=...), "
                             f"but the arguments give {p}={params[p]}")
    missing = [p for p in prog.params if p not in params]
    if missing:
        raise ValueError(f"parameter(s) {', '.join(missing)} appear in no array shape: pass "
                         f"them by keyword, e.g. {missing[0]}=...")
    check_context(context, prog.params, params)
    _check_aliasing(specs, values, written)
    return Bound(values, params)


def _check_array(prog, spec, v, is_written, is_array):
    if not is_array(v):
        raise ValueError(f"argument {spec.name} must be an array ({spec!r}), "
                         f"got {type(v).__name__}")
    if np.dtype(v.dtype) != spec.dtype.np:
        raise ValueError(f"argument {spec.name} has dtype {v.dtype}, expected "
                         f"{spec.dtype.np} ({spec!r}); arrays are never cast: convert it "
                         "with .astype()")
    if v.ndim != len(spec.shape):
        raise ValueError(f"argument {spec.name} has {v.ndim} dimension(s), expected "
                         f"{len(spec.shape)} ({spec!r})")
    flags = getattr(v, "flags", None)
    if flags is not None and not flags["C_CONTIGUOUS"]:
        raise ValueError(f"argument {spec.name} is not C-contiguous; pass "
                         f"np.ascontiguousarray({spec.name}) (results are written in place, "
                         "so polyk does not copy)")
    if flags is not None and not flags["ALIGNED"]:
        raise ValueError(f"argument {spec.name} is not aligned to its element size (a view at "
                         "an odd byte offset); the generated code would read it with "
                         "undefined behaviour: pass a copy")
    if is_written and flags is not None and not flags["WRITEABLE"]:
        raise ValueError(f"argument {spec.name} is written by {prog.name} but is read-only")
    return v


def _scalar(spec, v):
    if isinstance(v, (np.ndarray,)) and v.ndim == 0:
        v = v[()]
    if spec.dtype.is_float:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"argument {spec.name} must be a number ({spec!r}), got {v!r}")
        return spec.dtype.np.type(v)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"argument {spec.name} must be an integer ({spec!r}), got {v!r}")
    info = np.iinfo(spec.dtype.np)
    if not info.min <= int(v) <= info.max:
        raise ValueError(f"argument {spec.name}={v} does not fit {spec.dtype.name}")
    return spec.dtype.np.type(v)


def _params_from_shapes(prog, specs, values, params):
    """Solve ``shape == extent(params)`` dimension by dimension, then check every extent."""
    eqs = []
    for spec in specs:
        if spec.is_array:
            for k, (lin, n) in enumerate(zip(spec.shape, values[spec.name].shape)):
                eqs.append((spec, k, lin, int(n)))
    progress = True
    while progress:
        progress = False
        for spec, k, lin, n in eqs:
            unknown = [p for p in lin.coeffs if p not in params]
            if len(unknown) != 1:
                continue
            p = unknown[0]
            c = lin.coeffs[p]
            rest = n - lin.const - sum(lin.coeffs[q] * params[q] for q in lin.coeffs if q != p)
            if rest % c:
                raise ValueError(f"argument {spec.name} has extent {n} in dimension {k}, "
                                 f"which is not of the form {lin!r} for an integer {p}")
            params[p] = rest // c
            progress = True
    for spec, k, lin, n in eqs:
        if all(p in params for p in lin.coeffs):
            want = lin.evaluate(params)
            if want != n:
                got = ", ".join(f"{p}={params[p]}" for p in lin.coeffs)
                raise ValueError(f"argument {spec.name} has shape {values[spec.name].shape}, "
                                 f"but dimension {k} should be {lin!r} = {want} with {got}")


def check_context(context: isl.Set, names, params: dict) -> None:
    """Refuse parameter values outside the op's context (isl dropped guards it implies)."""
    s = context
    for k, name in enumerate(names):
        s = s.fix_val(isl.dim_type.param, k, isl.Val(str(int(params[name]))))
    if s.is_empty():
        vals = ", ".join(f"{n}={params[n]}" for n in names)
        raise ValueError(f"parameter values {vals} are outside what this op allows: {context}")


def _check_aliasing(specs, values, written):
    arrays = [s.name for s in specs if s.is_array]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            if a not in written and b not in written:
                continue
            if _shares(values[a], values[b]):
                raise ValueError(f"arguments {a} and {b} share memory; {a if a in written else b}"
                                 " is written, and the generated code assumes no aliasing "
                                 "(restrict): pass a copy")


def _shares(x, y) -> bool:
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return bool(np.shares_memory(x, y))
    ix, iy = _span(x), _span(y)
    return ix is not None and iy is not None and ix[0] < iy[1] and iy[0] < ix[1]


def _span(a):
    iface = getattr(a, "__cuda_array_interface__", None) or getattr(a, "__array_interface__",
                                                                     None)
    if not iface:
        return None
    start = iface["data"][0]
    return start, start + a.nbytes
