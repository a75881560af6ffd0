"""Farkas linearisation of the Pluto constraints, with isl's dual cones.

For a dependence polyhedron P (source s, target t, parameters n), ``P.coefficients()`` is
the set of affine forms ``c_cst + c_n.n + c_s.s + c_t.t`` that are non-negative on all of
P. Pluto's two constraints are such forms in the unknown schedule coefficients:

    legality   phi_T(t) - phi_S(s) >= 0
    bounding   u.n + w - (phi_T(t) - phi_S(s)) >= 0

so substituting the unknowns for the dual's coordinates turns each constraint of the dual
into a linear constraint on the unknowns - the Farkas multipliers are already eliminated.
"""

from __future__ import annotations

from dataclasses import dataclass

import islpy as isl


@dataclass(frozen=True)
class DualRow:
    is_eq: bool
    const: int
    coeffs: tuple[int, ...]     # over (c_cst, c_params..., c_src..., c_dst...)


def dual_rows(dep: isl.BasicMap | isl.Map) -> tuple[list[str], list[DualRow]]:
    """Parameter names and the constraints of the dual cone of a dependence polyhedron."""
    s = dep.wrap()
    if isinstance(s, isl.BasicSet):
        s = isl.Set.from_basic_set(s)
    s = s.remove_divs()
    params = [s.get_space().get_dim_name(isl.dim_type.param, k)
              for k in range(s.get_space().dim(isl.dim_type.param))]
    dual = s.coefficients()
    n = dual.get_space().dim(isl.dim_type.set)
    rows = []
    for c in dual.get_constraints():
        const = c.get_constant_val().to_python()
        coeffs = tuple(c.get_coefficient_val(isl.dim_type.set, k).to_python() for k in range(n))
        rows.append(DualRow(c.is_equality(), const, coeffs))
    return params, rows


def substitute(rows: list[DualRow], images: list[dict]) -> list[tuple[bool, dict]]:
    """Replace dual coordinate k by the linear form ``images[k]`` in every row."""
    out = []
    for r in rows:
        lin: dict = {1: r.const} if r.const else {}
        for a, img in zip(r.coeffs, images):
            if not a:
                continue
            for v, k in img.items():
                lin[v] = lin.get(v, 0) + a * k
        lin = {v: k for v, k in lin.items() if k}
        out.append((r.is_eq, lin))
    return out
