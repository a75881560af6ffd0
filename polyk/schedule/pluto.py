"""The Pluto algorithm (Bondhugula et al., PLDI 2008) in its Pluto+ form (Acharya and
Bondhugula, PPoPP 2015), over islpy.

One hyperplane at a time, for every statement S an affine function
``phi_S(i) = c_S . i + c0_S`` is found as the integer lexicographic minimum of
``(u, w, coefficients)`` subject to, for every dependence not yet satisfied,

    phi_T(t) - phi_S(s) >= 0                      (legality)
    u . n + w >= phi_T(t) - phi_S(s)              (bounding: small reuse distances)

linearised with Farkas' lemma (farkas.py). With ``rar``, read-after-read pairs between two
statements that read the same elements one-to-one (``one_to_one_reads``) add bounding
constraints in both directions and no legality (Pluto's ``--rar``, restricted): statements
that stream the same array are fused with matching loops instead of arbitrary ones. Coefficients may be negative (loop reversal,
backward skews, diamond faces): they lie in [-B, B], and non-triviality and linear
independence from the hyperplanes already found are encoded with binary decision
variables. Hyperplanes found in one go form a permutable band; when no further hyperplane
exists, the dependence graph is cut between strongly connected components (a sequence),
as the fusion policy says.

    before (gemm, smart fusion)          after
    for i: for j: S0                      for i: for j: S0          band (i, j), both parallel
           for k: for j: S1               for i: for j: for k: S1   band (i, j, k), i, j parallel
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import islpy as isl
import sympy

from ..errors import ScheduleError
from .farkas import dual_rows, substitute
from .ilp import ILP

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One schedule dimension for every statement: a loop hyperplane or a scalar (cut)."""

    kind: str                                  # "loop" or "scalar"
    band: int                                  # band index for loops, -1 for cuts
    coeffs: dict                               # statement -> tuple of iterator coefficients
    consts: dict                               # statement -> constant
    reason: str = ""                           # for cuts: why the graph was cut
    in_band: bool = False                      # a cut inside a band that keeps it
                                               # permutable for statements on one side

    def expr(self, stmt, iterators) -> str:
        return affine_text(self.coeffs[stmt], self.consts[stmt], iterators)


def affine_text(coeffs, const, iterators, star: str = "") -> str:
    """``2i + j - 1`` (``star="*"`` gives ``2*i + j - 1`` for isl)."""
    out = ""
    for c, it in zip(coeffs, iterators):
        if not c:
            continue
        mag = it if abs(c) == 1 else f"{abs(c)}{star}{it}"
        out += (" - " if c < 0 else " + ") + mag if out else ("-" if c < 0 else "") + mag
    if const or not out:
        out += (" - " if const < 0 else " + ") + str(abs(const)) if out else str(const)
    return out


@dataclass
class Dep:
    """One piece (basic map) of a dependence relation between two statements."""

    kind: str
    src: str
    dst: str
    rel: isl.BasicMap
    legality: list = field(default_factory=list)
    bounding: list = field(default_factory=list)
    satisfied_at: int | None = None           # row that strongly satisfies it


@dataclass
class PlutoResult:
    rows: list[Row]
    deps: list[Dep]
    notes: list[str]
    seconds: float


class Pluto:
    """The scheduler's state: statements, dependence pieces, rows found so far."""

    def __init__(self, scop, dep_maps, *, fuse="smart", coef_bound=4, shift_bound=64,
                 deadline=None, parallel_first=False, rar=()):
        self.scop = scop
        self.fuse = fuse
        self.B = coef_bound
        self.shift_bound = shift_bound
        self.deadline = deadline
        self.parallel_first = parallel_first
        self.stmts = [s.name for s in scop.statements]
        self.dim = {s.name: len(s.iterators) for s in scop.statements}
        self.iters = {s.name: s.iterators for s in scop.statements}
        self.order = {s: k for k, s in enumerate(self.stmts)}
        self.params = list(scop.params)
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.parametric = False           # the last hyperplane found needed u > 0
        self.deps = self._pieces(dep_maps)
        self.rar = [d for src, dst, m in rar for d in self._input_pieces(src, dst, m)]

    # ------------------------------------------------------------ set-up
    def _pieces(self, dep_maps) -> list[Dep]:
        """Dependence pieces, each split by the level of the original schedule that carries
        it: the level's constraints are affine, so they survive the removal of existential
        variables before Farkas (an over-approximation), and the original order stays a
        legal solution of every relaxed piece."""
        orig = self.scop.schedule.get_map()
        n_time = _time_dims(orig)
        levels = [_carried_at(n_time, k, self.scop.params_decl) for k in range(n_time)]
        out = []
        for kind, umap in dep_maps:
            maps = []
            umap.foreach_map(maps.append)
            for m in maps:
                m = m.intersect_params(self.scop.context)
                src = m.get_tuple_name(isl.dim_type.in_)
                dst = m.get_tuple_name(isl.dim_type.out)
                os_ = _restrict_to(orig, src)
                ot = _restrict_to(orig, dst)
                for lvl in levels:
                    cond = os_.apply_range(lvl).apply_range(ot.reverse())
                    part = m.intersect(cond)
                    pieces = []
                    part.foreach_basic_map(pieces.append)
                    for bm in pieces:
                        if bm.is_empty():
                            continue
                        d = Dep(kind, src, dst, bm)
                        self._linearise(d)
                        out.append(d)
        return out

    def _input_pieces(self, src, dst, m: isl.Map) -> list[Dep]:
        """Bounding constraints of a read-after-read relation, both ways: its reuse
        distance |phi_T(t) - phi_S(s)| is at most u . n + w. No legality: reads commute."""
        pieces = []
        m.intersect_params(self.scop.context).foreach_basic_map(pieces.append)
        out = []
        for bm in pieces:
            if bm.is_empty():
                continue
            d = Dep("input", src, dst, bm)
            self._linearise(d)
            forward = d.bounding
            back = Dep("input", dst, src, bm.reverse())
            self._linearise(back)
            d.legality, d.bounding = [], forward + back.bounding
            out.append(d)
        return out

    def _cvar(self, s, k):
        return f"cp_{s}_{k}", f"cn_{s}_{k}"

    def _phi(self, s, k, sign) -> dict:
        p, n = self._cvar(s, k)
        return {p: sign, n: -sign}

    def _linearise(self, d: Dep):
        params, rows = dual_rows(d.rel)
        ms, mt = self.dim[d.src], self.dim[d.dst]
        c0s, c0t = f"c0_{d.src}", f"c0_{d.dst}"

        def images(sign):  # coordinates of sign*(phi_T(t) - phi_S(s))
            cst = {c0t: sign}
            cst[c0s] = cst.get(c0s, 0) - sign
            out = [cst]
            out += [{} for _ in params]
            out += [self._phi(d.src, k, -sign) for k in range(ms)]
            out += [self._phi(d.dst, k, sign) for k in range(mt)]
            return out

        leg = images(1)
        bnd = images(-1)
        bnd[0] = dict(bnd[0])
        bnd[0]["w"] = bnd[0].get("w", 0) + 1
        for j, p in enumerate(params):
            bnd[1 + j] = {f"u_{p}": 1}
        d.legality = substitute(rows, leg)
        d.bounding = substitute(rows, bnd)

    # ------------------------------------------------------------ rank bookkeeping
    def hyperplanes(self, s) -> list[tuple[int, ...]]:
        return [r.coeffs[s] for r in self.rows if r.kind == "loop"]

    def rank(self, s) -> int:
        h = self.hyperplanes(s)
        return sympy.Matrix(h).rank() if h and self.dim[s] else 0

    def full_rank(self, s) -> bool:
        return self.rank(s) >= self.dim[s]

    def unsatisfied(self) -> list[Dep]:
        return [d for d in self.deps if d.satisfied_at is None]

    # ------------------------------------------------------------ hyperplane search
    def find_hyperplane(self, active: list[Dep], parallel: bool = False) -> Row | None:
        """The next hyperplane for every statement, or None when some statements have none.

        Statements that no active dependence connects are independent, so each connected
        component gets its own (much smaller) ILP, with its own bound (u, w)."""
        coeffs, consts = {}, {}
        self.parametric = False
        self.parametric_stmts = set()
        self.stuck = ()
        active = active if parallel else active + self._rar_together()
        for comp in self._components(active):
            deps = [d for d in active if d.src in comp]
            needs = [s for s in comp if not self.full_rank(s)]
            if not deps and not needs:
                for s in comp:
                    coeffs[s], consts[s] = (0,) * self.dim[s], 0
                continue
            sol = self._solve(comp, deps, needs, parallel)
            if sol is None:
                self.stuck = comp
                return None
            for s in comp:
                coeffs[s] = tuple(sol[f"cp_{s}_{k}"] - sol[f"cn_{s}_{k}"]
                                  for k in range(self.dim[s]))
                consts[s] = sol[f"c0_{s}"]
        return Row("loop", -1, coeffs, consts)

    def _rar_together(self) -> list[Dep]:
        """The read-after-read pieces between statements no cut has separated."""
        if not self.rar:
            return []
        part = self._partition()
        return [d for d in self.rar if part[d.src] == part[d.dst]]

    def _group_solution(self, group: list[str], active: list[Dep], parallel: bool):
        """The ILP's best hyperplane for the statements of ``group`` together, bounding
        their active dependences (and, unless ``parallel``, their read-after-read pairs);
        ``parallel``: with distance 0 along it. None where there is none."""
        members = set(group)
        extra = [] if parallel else self._rar_together()
        deps = [d for d in active + extra if d.src in members and d.dst in members]
        needs = [s for s in group if not self.full_rank(s)]
        return self._solve_ilp(group, deps, needs, parallel)

    def typed_groups(self, active: list[Dep], only=None) -> list[list[str]]:
        """Smart fusion's grouping of the SCCs (in a topological order): consecutive SCCs
        are fused greedily where fusing

        - joins innermost loops only (each statement has at most one dimension left), so
          no part loses the tiled band it has on its own (gramschmidt's two j-i nests);
        - keeps the parametric part of the reuse distance (sum of u) no larger than the
          parts' own: a fused loop whose dependences span a distance that grows with the
          problem size gives no reuse (adi's two sweeps, fused with t);
        - loses no parallel loop that a part had.
        """
        solved: dict[tuple, dict | None] = {}

        def solution(group, parallel):
            key = (tuple(group), parallel)
            if key not in solved:
                solved[key] = self._group_solution(group, active, parallel)
            return solved[key]

        def has_parallel(group):
            return solution(group, True) is not None

        def bound(group):          # the parametric part of the reuse distance
            sol = solution(group, False)
            return None if sol is None else sum(sol[f"u_{p}"] for p in self.params)

        def fuses_well(cur, scc):
            group = cur + scc
            if any(self.dim[s] - self.rank(s) > 1 for s in group):
                return False
            if has_parallel(group):          # so its reuse distance is constant too
                return True
            if has_parallel(cur) or has_parallel(scc):
                return False
            both = bound(group)
            return both is not None and \
                both <= max(x for x in (bound(cur), bound(scc), 0) if x is not None)

        groups: list[list[str]] = []
        for scc in self.sccs(active, only):
            if groups and fuses_well(groups[-1], list(scc)):
                groups[-1] = groups[-1] + list(scc)
            else:
                groups.append(list(scc))
        return groups

    def _components(self, active: list[Dep]) -> list[list[str]]:
        parent = {s: s for s in self.stmts}

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for d in active:
            parent[find(d.src)] = find(d.dst)
        groups: dict = {}
        for s in self.stmts:
            groups.setdefault(find(s), []).append(s)
        return list(groups.values())

    def _solve(self, comp, deps, needs, parallel=False) -> dict | None:
        """One component's ILP; ``parallel`` fixes the bound (u, w) to 0, which makes the
        bounding constraints say that no active dependence has a non-zero distance."""
        sol = self._solve_ilp(comp, deps, needs, parallel)
        if sol is not None and any(sol[f"u_{p}"] for p in self.params):
            self.parametric = True
            self.parametric_stmts |= set(comp)
        return sol

    def _solve_ilp(self, comp, deps, needs, parallel=False) -> dict | None:
        ilp = ILP()
        for p in self.params:
            ilp.var(f"u_{p}", 0, 0 if parallel else None)
        ilp.var("w", 0, 0 if parallel else None)
        for s in comp:
            # innermost iterators first, so the lexicographic minimum keeps the original
            # loop order where it can; the negative part first, so +i beats -i
            for k in reversed(range(self.dim[s])):
                p, n = self._cvar(s, k)
                ilp.var(n, 0, self.B)
                ilp.var(p, 0, self.B)
            ilp.var(f"c0_{s}", 0, self.shift_bound)
        for d in deps:
            for is_eq, row in d.legality + d.bounding:
                (ilp.eq if is_eq else ilp.ge)(row)
        for s in needs:
            self._independence(ilp, s)
        return ilp.lexmin(deadline=self.deadline)

    def _independence(self, ilp: ILP, s: str):
        """At least one row r of the orthogonal complement of the hyperplanes found for s
        has r.c != 0: binaries pick a sign, big-M switches the other constraints off."""
        m = self.dim[s]
        h = self.hyperplanes(s)
        if h:
            basis = sympy.Matrix(h).nullspace()
            comp = []
            for v in basis:
                den = sympy.ilcm(*[sympy.fraction(x)[1] for x in v]) if len(v) else 1
                comp.append([int(x * den) for x in v])
        else:
            comp = [[int(i == k) for i in range(m)] for k in range(m)]
        picks = {}
        for j, r in enumerate(comp):
            big = 1 + self.B * sum(abs(x) for x in r)
            dot = {}
            for k, x in enumerate(r):
                if x:
                    p, n = self._cvar(s, k)
                    dot[p] = dot.get(p, 0) + x
                    dot[n] = dot.get(n, 0) - x
            bp = ilp.var(f"bp_{s}_{j}_{len(self.rows)}", 0, 1)
            bn = ilp.var(f"bn_{s}_{j}_{len(self.rows)}", 0, 1)
            # bp = 1  =>  r.c >= 1 ;  bn = 1  =>  r.c <= -1
            ilp.ge({**dot, bp: -big, 1: big - 1})
            ilp.ge({**{v: -c for v, c in dot.items()}, bn: -big, 1: big - 1})
            picks[bp] = 1
            picks[bn] = 1
        ilp.ge({**picks, 1: -1})

    # ------------------------------------------------------------ satisfaction
    def _row_map(self, row: Row, stmt) -> isl.Map:
        decl = self.scop.params_decl
        its = self.iters[stmt]
        expr = affine_text(row.coeffs[stmt], row.consts[stmt], its, "*")
        return isl.Map(f"{decl} {{ {stmt}[{', '.join(its)}] -> [{expr}] }}")

    def deltas(self, row: Row, d: Dep) -> isl.Set:
        m = isl.Map.from_basic_map(d.rel)
        return m.apply_domain(self._row_map(row, d.src)).apply_range(
            self._row_map(row, d.dst)).deltas()

    def update_satisfaction(self, index: int):
        row = self.rows[index]
        for d in self.unsatisfied():
            delta = self.deltas(row, d)
            if delta.intersect(isl.Set(f"{self.scop.params_decl} {{ [x] : x <= 0 }}")
                               ).is_empty():
                d.satisfied_at = index

    # ------------------------------------------------------------ cuts
    def sccs(self, deps: list[Dep], only=None) -> list[list[str]]:
        """Strongly connected components of the dependence graph (of the statements
        ``only``, default all), in a topological order that keeps the original statement
        order where the graph allows."""
        stmts = [s for s in self.stmts if only is None or s in only]
        if only is not None:
            deps = [d for d in deps if d.src in only and d.dst in only]
        succ = {s: set() for s in stmts}
        for d in deps:
            succ[d.src].add(d.dst)
        index, low, stack, on, comps = {}, {}, [], set(), []
        counter = [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in sorted(succ[v], key=self.order.get):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp, key=self.order.get))

        for v in stmts:
            if v not in index:
                visit(v)
        # order components topologically, preferring original order (Kahn's algorithm)
        comp_of = {s: k for k, c in enumerate(comps) for s in c}
        preds = {k: set() for k in range(len(comps))}
        for d in deps:
            a, b = comp_of[d.src], comp_of[d.dst]
            if a != b:
                preds[b].add(a)
        done, out = set(), []
        while len(out) < len(comps):
            ready = [k for k in range(len(comps)) if k not in done and preds[k] <= done]
            k = min(ready, key=lambda k: self.order[comps[k][0]])
            done.add(k)
            out.append(comps[k])
        return out

    def cut(self, groups: list[list[str]], reason: str, in_band: bool = False) -> bool:
        """Add a scalar row numbering the groups; False if it would separate nothing new."""
        if len(groups) < 2:
            return False
        consts = {}
        for k, g in enumerate(groups):
            for s in g:
                consts[s] = k
        # separating statements already apart adds nothing
        prev = self._partition()
        new = {}
        for s in self.stmts:
            new.setdefault((prev[s], consts[s]), []).append(s)
        if len(new) == len(set(prev.values())):
            return False
        self.rows.append(Row("scalar", -1, {s: (0,) * self.dim[s] for s in self.stmts},
                             consts, reason, in_band))
        self.update_satisfaction(len(self.rows) - 1)
        self.notes.append(f"cut ({reason}): " + " | ".join(
            "{" + ", ".join(g) + "}" for g in groups))
        return True

    def cut_fused(self, active: list[Dep]) -> bool:
        """Smart fusion's cut where the hyperplane found has a reuse distance that grows
        with the problem size: only in the components whose hyperplane has it."""
        reason = "smart fusion: fused, the reuse distance grows with the problem size"
        comps = self._components(active)
        if any(set(c) - self.parametric_stmts for c in comps):
            return self.cut_within(self.parametric_stmts, active, reason)
        return self.cut(self.typed_groups(active), reason)

    def cut_stuck(self, active: list[Dep], band_rows: int):
        """Where one component of the dependence graph has no hyperplane and others have,
        distribute that component's SCCs and let the others go on with their band (it stays
        permutable for them since their active dependences stay active): the new active
        dependences, or None. If the component's SCCs are one only while its band lasts,
        its band is closed for it alone: the cut separates its statements, so its later
        rows form new bands in the tree."""
        stuck = set(self.stuck)
        if not stuck:
            return None
        reason = "no common hyperplane: distribute the SCCs of the component without one"
        tries = [active]
        if band_rows:
            tries.append([d for d in active if d.src not in stuck or d.satisfied_at is None])
        for deps in tries:
            if self.cut_within(stuck, deps, reason, in_band=True):
                cut = len(self.rows) - 1
                return [d for d in deps if d.satisfied_at != cut]
        return None

    def cut_within(self, members, active: list[Dep], reason: str,
                   in_band: bool = False) -> bool:
        """Distribute the statements ``members`` (whole components of the active
        dependence graph) by smart fusion's groups, or by SCCs, keeping each other component
        whole: components share no unsatisfied dependence, so they need not share loops,
        and the others keep the band they are building (ludcmp's factorisation is not split
        because its back substitution, a separate component, needs a cut)."""
        members = set(members)
        comps = self._components(active)
        if not members or len(comps) < 2 or all(set(c) <= members for c in comps):
            return False
        if self.fuse == "smart":
            groups = self.typed_groups(active, members)
        else:
            groups = self.sccs(active, members)
        if len(groups) < 2:
            return False
        others = [c for c in comps if not set(c) & members]
        return self.cut(others + groups, reason, in_band)

    def _partition(self) -> dict:
        """Statements grouped by their scalar rows so far."""
        return {s: tuple(r.consts[s] for r in self.rows if r.kind == "scalar")
                for s in self.stmts}

    def smart_groups(self, comps):
        """Consecutive SCCs of equal depth stay together; a change of depth cuts."""
        groups = []
        for c in comps:
            depth = max(self.dim[s] for s in c)
            if groups and groups[-1][0] == depth:
                groups[-1][1].extend(c)
            else:
                groups.append((depth, list(c)))
        return [g for _, g in groups]

    def complete_in_original_order(self, active: list[Dep], band: int):
        """Append the original schedule's dimensions, each loop its own band.

        Pluto can get stuck: hyperplanes that each keep every dependence's distance
        non-negative can leave a cycle of dependences with distance zero on all of them, and
        with every statement at full rank no new hyperplane is asked for and no cut splits a
        cycle (polyk fuzz seed 1101). The rows found so far give every unsatisfied
        dependence a distance >= 0, so each of its pairs is either carried by them or at
        distance zero on all of them, and then the original order runs the source strictly
        first: rows + original rows is legal (the legality checker, which runs on every
        schedule, confirms it). One-member bands: the original loops need not be
        permutable together."""
        stuck = sorted({d.src for d in active} | {d.dst for d in active})
        orig = self.scop.schedule.get_map()
        per_stmt = {s: _affine_dims(_restrict_to(orig, s), self.dim[s]) for s in self.stmts}
        for k in range(_time_dims(orig)):
            coeffs = {s: per_stmt[s][k][0] for s in self.stmts}
            consts = {s: per_stmt[s][k][1] for s in self.stmts}
            if any(any(c) for c in coeffs.values()):
                band += 1
                self.rows.append(Row("loop", band, coeffs, consts))
            else:
                self.rows.append(Row("scalar", -1, coeffs, consts,
                                     "the original order of the statements"))
            self.update_satisfaction(len(self.rows) - 1)
        # a dependence carried partly by the rows found and partly by the original ones is
        # satisfied lexicographically though no single row carries all of it: no check here
        self.notes.append(f"Pluto found no hyperplane and no cut for {', '.join(stuck)}: "
                          "completed in the original loop order")

    # ------------------------------------------------------------ driver
    def run(self) -> PlutoResult:
        t0 = time.perf_counter()
        comps = self.sccs(self.unsatisfied())
        if self.fuse == "none":
            self.cut(comps, "fuse='none' distributes every SCC")
        elif self.fuse == "smart":
            self.cut(self.smart_groups(comps), "smart fusion: SCCs of different depth")
        band = 0
        band_rows = 0
        active = self.unsatisfied()
        max_rows = 4 * (max(self.dim.values(), default=0) + len(self.stmts)) + 8
        while len(self.rows) < max_rows:
            if all(self.full_rank(s) for s in self.stmts) and not self.unsatisfied():
                break
            row = None
            if not all(self.full_rank(s) for s in self.stmts):
                if self.parallel_first:
                    row = self.find_hyperplane(active, parallel=True)
                    if row is None and band_rows:   # end the band: maybe one opens then
                        band += 1
                        band_rows = 0
                        active = self.unsatisfied()
                        continue
                    if row is None and self.cut(self.sccs(active), "parallel first: "
                                                "distribute for a parallel loop"):
                        active = self.unsatisfied()
                        continue
                if row is None:
                    row = self.find_hyperplane(active)
                    if row is not None and self.parametric and self.fuse == "smart" and \
                            self.cut_fused(active):
                        active = self.unsatisfied()
                        continue
            if row is not None:
                row.band = band
                self.rows.append(row)
                band_rows += 1
                self.update_satisfaction(len(self.rows) - 1)
                continue
            cut_active = self.cut_stuck(active, band_rows)
            if cut_active is not None:
                active = cut_active
                continue
            if band_rows:          # close the band: drop what it satisfied, try again
                band += 1
                band_rows = 0
                active = self.unsatisfied()
                continue
            comps = self.sccs(active)
            if self.fuse == "smart":
                groups = self.typed_groups(active)
                if 1 < len(groups) < len(comps) and self.cut(
                        groups, "no common hyperplane: distribute, fusing consecutive SCCs "
                        "whose innermost loops share one"):
                    active = self.unsatisfied()
                    continue
            if not self.cut(comps, "no common hyperplane: distribute the SCCs"):
                self.complete_in_original_order(active, band)
                break
            active = self.unsatisfied()
        else:
            raise ScheduleError(f"Pluto did not converge after {max_rows} rows")
        return PlutoResult(self.rows, self.deps, self.notes, time.perf_counter() - t0)


def _time_dims(orig: isl.UnionMap) -> int:
    maps = []
    orig.foreach_map(maps.append)
    return maps[0].dim(isl.dim_type.out) if maps else 0


def _restrict_to(umap: isl.UnionMap, stmt: str) -> isl.Map:
    maps = []
    umap.foreach_map(lambda m: maps.append(m) if m.get_tuple_name(isl.dim_type.in_) == stmt
                     else None)
    return maps[0]


def _affine_dims(m: isl.Map, n_in: int) -> list[tuple[tuple[int, ...], int]]:
    """(iterator coefficients, constant) of each output dimension of a statement's original
    schedule map (affine: the original schedule is loops and sequence positions)."""
    pma = isl.PwMultiAff.from_map(m)
    out = []
    for k in range(m.dim(isl.dim_type.out)):
        pieces = pma.get_pw_aff(k).get_pieces()
        aff = pieces[-1][1]
        out.append((tuple(aff.get_coefficient_val(isl.dim_type.in_, j).to_python()
                          for j in range(n_in)), aff.get_constant_val().to_python()))
    return out


def _carried_at(n: int, k: int, decl: str) -> isl.Map:
    """Time stamps equal before dimension k and increasing at k."""
    a = [f"a{i}" for i in range(n)]
    b = [f"b{i}" for i in range(n)]
    cons = [f"a{i} = b{i}" for i in range(k)] + [f"a{k} < b{k}"]
    return isl.Map(f"{decl} {{ [{', '.join(a)}] -> [{', '.join(b)}] : {' and '.join(cons)} }}")


def one_to_one_reads(scop) -> list[tuple[str, str, isl.Map]]:
    """(S, T, relation) for each two statements S before T that read the same elements of
    an array one-to-one: S[s] -> T[t] reading one element, single-valued and injective (a
    matrix that two statements each stream once). Many-to-many reuse (a vector read across
    a whole loop of the other statement) is left out: bounding it would favour loops that
    keep the vector's element fixed over parallel ones."""
    per = {}
    maps = []
    scop.reads().foreach_map(maps.append)
    for m in maps:
        array = m.get_tuple_name(isl.dim_type.out)
        if array in scop.arrays and scop.arrays[array].shape:
            per.setdefault(array, []).append(m)
    order = {s.name: k for k, s in enumerate(scop.statements)}
    out = []
    for array, ms in per.items():
        ms.sort(key=lambda m: order[m.get_tuple_name(isl.dim_type.in_)])
        for a in range(len(ms)):
            for b in range(a + 1, len(ms)):
                rel = ms[a].apply_range(ms[b].reverse())
                if not rel.is_empty() and rel.is_single_valued() and rel.is_injective():
                    out.append((ms[a].get_tuple_name(isl.dim_type.in_),
                                ms[b].get_tuple_name(isl.dim_type.in_), rel))
    return out


def pluto_schedule(scop, deps, *, fuse="smart", coef_bound=4, timeout=60.0,
                   private=(), parallel_first=False, rar=False) -> PlutoResult:
    """Run Pluto on the flow, anti and output dependences of ``scop`` (and, with ``rar``,
    the one-to-one read-after-read pairs, for locality only)."""
    kinds = [("flow", deps.flow), ("anti", deps.anti), ("output", deps.output)]
    p = Pluto(scop, kinds, fuse=fuse, coef_bound=coef_bound,
              deadline=time.perf_counter() + timeout, parallel_first=parallel_first,
              rar=one_to_one_reads(scop) if rar else ())
    res = p.run()
    log.debug("pluto on %s: %d rows in %.2f s", scop.name, len(res.rows), res.seconds)
    return res
