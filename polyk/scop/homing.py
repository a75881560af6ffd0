"""Scalar accumulators kept in the array element they end in ("homing").

A loop nest written with a scalar temporary

    for i: for j:                          for i: for j:
        w = A[i, j]                            (nothing: A[i, j] already holds it)
        for k: w -= A[i, k] * A[k, j]   =>     for k: A[i, j] -= A[i, k] * A[k, j]
        A[i, j] = w / A[j, j]                  A[i, j] = A[i, j] / A[j, j]

serialises every (i, j) iteration on the one storage cell of ``w``: privatising it
(``privatize.py``) makes the j loop parallel but still forbids tiling the k loop with i and
j, because tiles would interleave two iterations' uses of one private copy. Keeping each
iteration's value in the element it is finally stored to gives every iteration its own cell,
with no new storage: ludcmp becomes lu. The values computed, and the order of the
operations on each value, are those of the original, so results are bitwise the same.

A *web* is a set of statements linked by the flow of one local scalar. It is homed when

- the web's first statement (in program order) is a plain ``w = e`` directly inside the
  loops enclosing every statement of the web (its common loops), and its last is a plain
  ``X[f] = e'`` there, with ``X`` an array of ``w``'s type: in each iteration of the common
  loops the first runs first and the last runs last;
- every read of ``w`` gets its value from a write of the web in the same iteration of the
  common loops (nothing flows between iterations, or in from outside);
- no statement instance accesses the home ``X[f]`` after the first statement and before the
  last one of the same iteration, nor does the last one read it (its old value is then
  gone), checked with isl against the original schedule.

The first statement becomes ``X[f] = e``, the others use ``X[f]`` where they used ``w``; a
statement that became ``X[f] = X[f]`` is dropped. Only locals that cannot be seen after the kernel are homed:
Python ops' locals, and C temporaries declared inside the scop region.
"""

from __future__ import annotations

import copy
import dataclasses

import islpy as isl

from .expr import AAdd, AFloorDiv, AMinMax, AMod, AMul, AVar, ELoad, aff_pretty
from .privatize import _same_iteration


@dataclasses.dataclass(frozen=True)
class Home:
    """One homed web: its statements, the scalar and where its values live."""

    scalar: str
    statements: tuple[str, ...]
    array: str
    text: str          # the home element as written in the last statement, e.g. "A[i, j]"


def homeable_locals(prog) -> list[str]:
    if prog.language == "c":
        return [n for n in prog.locals if n in prog.region_locals]
    return [n for n in prog.locals if prog.arg(n) is None]


def find_homes(scop, deps) -> list[Home]:
    """The webs of local scalars that can live in the element they end in."""
    out = []
    names = homeable_locals(scop.program)
    for name in names:
        if scop.arrays[name].kind != "local" or name not in deps.per_array:
            continue
        for web in _webs(scop, deps, name):
            home = _home_of(scop, deps, name, web)
            if home is not None:
                out.append(home)
    return out


def _webs(scop, deps, name) -> list[list]:
    """Statements using ``name``, grouped by the flow of its values (program order)."""
    users = [s for s in scop.statements if any(a.array == name for a in s.accesses)]
    parent = {s.name: s.name for s in users}

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    def link(m):
        a = root(m.get_tuple_name(isl.dim_type.in_))
        b = root(m.get_tuple_name(isl.dim_type.out))
        parent[a] = b
    deps.of_array(name, "flow").foreach_map(link)
    groups = {}
    for s in users:
        groups.setdefault(root(s.name), []).append(s)
    return list(groups.values())


def _common_loops(web) -> tuple:
    loops = [s.info.loops for s in web]
    depth = 0
    while all(len(lp) > depth for lp in loops) and len({lp[depth] for lp in loops}) == 1:
        depth += 1
    return loops[0][:depth]


def _home_of(scop, deps, name, web) -> Home | None:
    if len(web) < 2:
        return None
    first, last = web[0], web[-1]
    common = _common_loops(web)
    d = len(common)
    if first.info.loops != common or last.info.loops != common:
        return None
    fb, lb = first.body, last.body
    if fb.op is not None or fb.target.array != name or fb.target.indices:
        return None
    if lb.op is not None or lb.target.array == name or \
            not any(r.array == name for r in lb.reads):
        return None
    home = scop.arrays.get(lb.target.array)
    if home is None or home.kind != "arg" or home.dtype != scop.arrays[name].dtype:
        return None
    # every read of the scalar gets its value from this web, in the same iteration
    doms = isl.UnionSet.empty(scop.context.get_space())
    for s in web:
        doms = doms.union(isl.UnionSet.from_set(s.domain))
    flow = deps.of_array(name, "flow").intersect_domain(doms)
    for s in web:
        if any(a.array == name and a.kind == "read" for a in s.accesses):
            got = flow.intersect_range(isl.UnionSet.from_set(s.domain)).range()
            if not isl.UnionSet.from_set(s.domain).is_subset(got):
                return None
    if not flow.is_subset(_same_iteration(scop, None, d, web)):
        return None
    if not _covered(scop, web, d):
        return None
    if _home_touched(scop, first, last, d):
        return None
    text = f"{home.name}[{', '.join(aff_pretty(i) for i in lb.target.indices)}]"
    return Home(name, tuple(s.name for s in web), home.name, text)


def _covered(scop, web, d) -> bool:
    """The first and the last statement run in the same iterations of the common loops,
    and every other statement of the web only in those."""
    first, last = web[0], web[-1]
    a = [f"i{k}" for k in range(d)]

    def projected(s):
        b = [f"b{k}" for k in range(len(s.iterators))]
        m = isl.Map(f"{scop.params_decl} {{ {s.name}[{', '.join(b)}] -> "
                    f"{first.name}[{', '.join(b[:d])}] }}")
        return s.domain.apply(m)
    to_first = isl.Map(f"{scop.params_decl} {{ {last.name}[{', '.join(a)}] -> "
                       f"{first.name}[{', '.join(a)}] }}")
    if not last.domain.apply(to_first).is_equal(first.domain):
        return False
    return all(projected(s).is_subset(first.domain) for s in web[1:-1])


def _home_touched(scop, first, last, d) -> bool:
    """Whether some instance between ``first`` and ``last`` of one iteration of their d
    common loops accesses the home element, or ``last`` reads it."""
    home_write = [a for a in last.accesses if a.kind == "write"][0]
    arr = home_write.array
    sched = scop.schedule_map()
    before = sched.lex_lt_union_map(sched)                 # a -> b: a runs before b
    a = [f"i{k}" for k in range(d)]
    pair = isl.UnionMap(f"{scop.params_decl} {{ {last.name}[{', '.join(a)}] -> "
                        f"{first.name}[{', '.join(a)}] }}")
    pair = pair.intersect_domain(isl.UnionSet.from_set(last.domain))
    after_first = pair.apply_range(before)                  # last[h] -> t: first(h) < t
    before_last = before.reverse().intersect_domain(isl.UnionSet.from_set(last.domain))
    window = after_first.intersect(before_last)             # first(h) < t < last(h)
    acc = isl.UnionMap.empty(scop.context.get_space())
    for s in scop.statements:
        for x in s.accesses:
            if x.array == arr:
                acc = acc.union(isl.UnionMap.from_map(x.relation))
    element = isl.UnionMap.from_map(home_write.relation)    # last[h] -> X[f(h)]
    if not window.apply_range(acc).intersect(element).intersect_params(
            scop.context).is_empty():
        return True
    for x in last.accesses:
        if x.kind == "read" and x.array == arr:
            if not isl.UnionMap.from_map(x.relation).intersect(element).intersect_params(
                    scop.context).is_empty():
                return True
    return False


# ------------------------------------------------------------------ rewriting the program
def _rename(e, names: dict):
    if isinstance(e, AVar):
        return AVar(names.get(e.name, e.name), e.kind) if e.kind == "iter" else e
    if isinstance(e, AAdd):
        return AAdd(_rename(e.a, names), _rename(e.b, names), e.sign)
    if isinstance(e, AMul):
        return AMul(e.coef, _rename(e.e, names))
    if isinstance(e, AFloorDiv):
        return AFloorDiv(_rename(e.e, names), e.d)
    if isinstance(e, AMod):
        return AMod(_rename(e.e, names), e.d)
    if isinstance(e, AMinMax):
        return AMinMax(e.op, tuple(_rename(a, names) for a in e.args))
    return e


def _loads(body):
    seen = {}
    for e in [body.target, *body.value.walk(), *body.reads]:
        if isinstance(e, ELoad):
            seen[id(e)] = e
    return list(seen.values())


def apply_homes(prog, homes: list[Home]):
    """A copy of ``prog`` with each web's scalar kept in its home element."""
    if not homes:
        return prog
    by_name = {s.name: s for s in prog.statements}
    new_info, dropped = {}, set()
    for h in homes:
        last = by_name[h.statements[-1]]
        d = len(last.iterators)
        home = last.body.target
        for sname in h.statements:
            info = copy.deepcopy(by_name[sname])
            names = dict(zip(last.iterators, info.iterators[:d]))
            for ld in _loads(info.body):
                if ld.array == h.scalar and not ld.indices:
                    ld.array = home.array
                    ld.indices = tuple(_rename(i, names) for i in home.indices)
            body = info.body
            if sname == h.statements[0]:
                info.code = f"{info.code}  (kept in {h.text})"
            if body.op is None and isinstance(body.value, ELoad) and \
                    body.value.array == body.target.array and \
                    body.value.indices == body.target.indices:
                dropped.add(sname)      # X[f] = X[f]
            new_info[sname] = info
    statements = [new_info.get(s.name, s) for s in prog.statements if s.name not in dropped]

    def rebuild(nodes):
        out = []
        for n in nodes:
            if hasattr(n, "children"):
                out.append(dataclasses.replace(n, children=rebuild(n.children)))
            elif n.name not in dropped:
                out.append(new_info.get(n.name, n))
        return out
    used = {ld.array for s in statements for ld in _loads(s.body)}
    local = {n: t for n, t in prog.locals.items() if n in used or prog.arg(n) is not None}
    return dataclasses.replace(prog, statements=statements, tree=rebuild(prog.tree),
                               locals=local)
