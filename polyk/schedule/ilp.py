"""A small integer linear program over named variables, solved with isl.

Rows are dictionaries ``{variable: coefficient, 1: constant}`` meaning ``row >= 0`` (or
``== 0``). The lexicographic minimum is taken one variable at a time (``Set.min_val`` then
fix it): isl's general ``lexmin`` grows fast with the number of variables, and this gives
the same optimum (see ISLPY_NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import islpy as isl

from ..errors import ScheduleError


@dataclass
class ILP:
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[bool, dict]] = field(default_factory=list)   # (is_equality, row)
    bounds: dict = field(default_factory=dict)                    # var -> (lo, hi|None)

    def var(self, name: str, lo: int | None = 0, hi: int | None = None) -> str:
        if name in self.bounds:
            raise ValueError(f"variable {name} declared twice")
        self.variables.append(name)
        self.bounds[name] = (lo, hi)
        return name

    def ge(self, row: dict) -> None:
        row = {k: v for k, v in row.items() if v}
        if any(k != 1 for k in row):
            self.rows.append((False, row))
        elif row.get(1, 0) < 0:
            self.rows.append((False, row))  # infeasible constant row: keep it

    def eq(self, row: dict) -> None:
        row = {k: v for k, v in row.items() if v}
        if row:
            self.rows.append((True, row))

    def to_set(self) -> isl.Set:
        space = isl.Space.create_from_names(isl.DEFAULT_CONTEXT, set=self.variables)
        bset = isl.BasicSet.universe(space)
        cons = []
        for v, (lo, hi) in self.bounds.items():
            if lo is not None:
                cons.append(isl.Constraint.ineq_from_names(space, {v: 1, 1: -lo}))
            if hi is not None:
                cons.append(isl.Constraint.ineq_from_names(space, {v: -1, 1: hi}))
        for is_eq, row in self.rows:
            make = isl.Constraint.eq_from_names if is_eq else isl.Constraint.ineq_from_names
            cons.append(make(space, row))
        for c in cons:
            bset = bset.add_constraint(c)
        return isl.Set.from_basic_set(bset)

    def feasible(self) -> bool:
        """Whether an integer point exists, decided by HiGHS (scipy's MILP solver): isl's
        exact emptiness test takes tens of seconds on infeasible systems of a few hundred
        variables with binaries, HiGHS milliseconds. A wrong "infeasible" would only cost
        fusion or parallelism (Pluto then cuts); "feasible" is confirmed by isl."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        index = {v: k for k, v in enumerate(self.variables)}
        n = len(self.variables)
        rows, lo, hi = [], [], []
        for is_eq, row in self.rows:
            a = np.zeros(n)
            for v, c in row.items():
                if v != 1:
                    a[index[v]] = c
            rows.append(a)
            lo.append(-row.get(1, 0))
            hi.append(-row.get(1, 0) if is_eq else np.inf)
        blo = [self.bounds[v][0] if self.bounds[v][0] is not None else -np.inf
               for v in self.variables]
        bhi = [self.bounds[v][1] if self.bounds[v][1] is not None else np.inf
               for v in self.variables]
        cons = [LinearConstraint(np.array(rows), lo, hi)] if rows else []
        res = milp(np.zeros(n), constraints=cons, integrality=np.ones(n),
                   bounds=Bounds(blo, bhi), options={"time_limit": 30})
        return res.status != 2   # 2: infeasible; anything else: let isl decide

    def lexmin(self, order: list[str] | None = None, deadline: float | None = None
               ) -> dict[str, int] | None:
        """Integer lexicographic minimum in ``order`` (default: declaration order);
        None when infeasible."""
        import time
        if len(self.variables) > 40 and not self.feasible():
            return None
        s = self.to_set()
        if s.is_empty():
            return None
        order = order or self.variables
        space = s.get_space()
        ls = isl.LocalSpace.from_space(space)
        index = {v: k for k, v in enumerate(self.variables)}
        out = {}
        for v in order:
            if deadline is not None and time.perf_counter() > deadline:
                raise ScheduleError("scheduling exceeded its time budget (option "
                                    "schedule_timeout)")
            k = index[v]
            val = s.min_val(isl.Aff.var_on_domain(ls, isl.dim_type.set, k))
            if not val.is_int():
                raise ScheduleError(f"the scheduling ILP is unbounded in {v}")
            x = val.to_python()
            out[v] = x
            s = s.fix_val(isl.dim_type.set, k, val)
        return out
