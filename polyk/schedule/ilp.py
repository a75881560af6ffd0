"""A small integer linear program over named variables, solved with isl.

Rows are dictionaries ``{variable: coefficient, 1: constant}`` meaning ``row >= 0`` (or
``== 0``). The lexicographic minimum is taken one variable at a time (``Set.min_val`` then
fix it): isl's general ``lexmin`` grows fast with the number of variables, and this gives
the same optimum (see ISLPY_NOTES.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import islpy as isl

from ..errors import ScheduleError
from ..isl_budget import is_over_budget, isl_operations, operations_for

OVER_TIME = "scheduling exceeded its time budget (option schedule_timeout)"


@dataclass
class ILP:
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[bool, dict]] = field(default_factory=list)   # (is_equality, row)
    bounds: dict = field(default_factory=dict)                    # var -> (lo, hi|None)
    deadline: float | None = None          # perf_counter() time; set by lexmin

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
        ls = isl.LocalSpace.from_space(space)
        index = {v: k for k, v in enumerate(self.variables)}
        bset = isl.BasicSet.universe(space)
        set_t = isl.dim_type.set

        ctx = isl.DEFAULT_CONTEXT
        vals: dict = {}

        def val(k):
            if k not in vals:
                vals[k] = isl.Val.int_from_si(ctx, k)
            return vals[k]

        def constraint(is_eq, row):
            c = (isl.Constraint.alloc_equality(ls) if is_eq
                 else isl.Constraint.alloc_inequality(ls))
            for v, k in row.items():
                if v == 1:
                    c = c.set_constant_val(val(k))
                else:
                    c = c.set_coefficient_val(set_t, index[v], val(k))
            return c

        for v, (lo, hi) in self.bounds.items():
            if lo is not None:
                bset = bset.add_constraint(constraint(False, {v: 1, 1: -lo}))
            if hi is not None:
                bset = bset.add_constraint(constraint(False, {v: -1, 1: hi}))
        for is_eq, row in self.rows:
            bset = bset.add_constraint(constraint(is_eq, row))
        return isl.Set.from_basic_set(bset)

    def _highs_model(self):
        import numpy as np
        index = {v: k for k, v in enumerate(self.variables)}
        n = len(self.variables)
        a = np.zeros((len(self.rows), n))
        lo = np.empty(len(self.rows))
        hi = np.empty(len(self.rows))
        for r, (is_eq, row) in enumerate(self.rows):
            for v, c in row.items():
                if v != 1:
                    a[r, index[v]] = c
            lo[r] = -row.get(1, 0)
            hi[r] = lo[r] if is_eq else np.inf
        blo = np.array([self.bounds[v][0] if self.bounds[v][0] is not None else -np.inf
                        for v in self.variables], dtype=float)
        bhi = np.array([self.bounds[v][1] if self.bounds[v][1] is not None else np.inf
                        for v in self.variables], dtype=float)
        return a, lo, hi, blo, bhi

    def _highs(self, a, lo, hi, blo, bhi, objective):
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        cons = [LinearConstraint(a, lo, hi)] if len(a) else []
        limit = 30.0 if self.deadline is None else \
            max(0.01, min(30.0, self.deadline - time.perf_counter()))
        return milp(objective, constraints=cons, integrality=np.ones(len(blo)),
                    bounds=Bounds(blo, bhi), options={"time_limit": limit})

    def feasible(self) -> bool:
        """Whether an integer point exists, decided by HiGHS (scipy's MILP solver): isl's
        exact emptiness test takes tens of seconds on infeasible systems of a few hundred
        variables with binaries, HiGHS milliseconds. A wrong "infeasible" would only cost
        fusion or parallelism (Pluto then cuts); "feasible" is confirmed by isl."""
        import numpy as np
        a, lo, hi, blo, bhi = self._highs_model()
        return self._highs(a, lo, hi, blo, bhi, np.zeros(len(blo))).status != 2

    def highs_lexmin(self, order) -> dict | None:
        """The lexicographic minimum by HiGHS, one variable at a time; None if HiGHS
        cannot give one (the caller then asks isl)."""
        import numpy as np
        a, lo, hi, blo, bhi = self._highs_model()
        index = {v: k for k, v in enumerate(self.variables)}
        blo, bhi = blo.copy(), bhi.copy()
        current = None     # a feasible point under the fixes made so far
        for v in order:
            k = index[v]
            if blo[k] == bhi[k]:
                continue
            if current is not None and round(current[k]) == blo[k]:
                bhi[k] = blo[k]   # already at its lower bound: that is the minimum
                continue
            c = np.zeros(len(blo))
            c[k] = 1.0
            res = self._highs(a, lo, hi, blo, bhi, c)
            if res.status != 0 or res.x is None:
                return None
            current = res.x
            x = round(res.x[k])
            blo[k] = bhi[k] = x
        return {v: int(blo[index[v]]) for v in self.variables}

    def contains(self, point: dict) -> bool:
        """Exact membership of an integer point (Python integers, no rounding)."""
        for v, (lo, hi) in self.bounds.items():
            if lo is not None and point[v] < lo or hi is not None and point[v] > hi:
                return False
        for is_eq, row in self.rows:
            val = sum(k * (1 if v == 1 else point[v]) for v, k in row.items())
            if val < 0 or (is_eq and val != 0):
                return False
        return True

    def lexmin(self, order: list[str] | None = None, deadline: float | None = None
               ) -> dict[str, int] | None:
        """Integer lexicographic minimum in ``order`` (default: declaration order);
        None when infeasible."""
        self.deadline = deadline
        order = order or self.variables
        if len(self.variables) > 40:
            # large systems: HiGHS finds the optimum fast, isl checks it exactly
            if not self.feasible():
                return None
            point = self.highs_lexmin(order)
            if point is not None and self.contains(point):
                return point
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            raise ScheduleError(OVER_TIME)
        limit = None if left is None else operations_for(left)
        try:
            # isl cannot be interrupted by a clock: its operation counter stands for one
            with isl_operations(limit) as in_force:
                return self._isl_lexmin(order, deadline)
        except isl.Error as e:
            if not is_over_budget(e) or in_force != limit:
                raise                       # a budget of the caller's: its own error
            raise ScheduleError(OVER_TIME) from None

    def _isl_lexmin(self, order, deadline) -> dict[str, int] | None:
        s = self.to_set()
        if s.is_empty():
            return None
        space = s.get_space()
        ls = isl.LocalSpace.from_space(space)
        index = {v: k for k, v in enumerate(self.variables)}
        out = {}
        for v in order:
            if deadline is not None and time.perf_counter() > deadline:
                raise ScheduleError(OVER_TIME)
            k = index[v]
            val = s.min_val(isl.Aff.var_on_domain(ls, isl.dim_type.set, k))
            if not val.is_int():
                raise ScheduleError(f"the scheduling ILP is unbounded in {v}")
            x = val.to_python()
            out[v] = x
            s = s.fix_val(isl.dim_type.set, k, val)
        return out
