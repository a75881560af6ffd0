"""Random affine programs and random option sets, checked against the op run as Python.

A random program is Python source text of a ``@polyk.op`` function: nests of depth 1-4,
imperfectly nested, 1-5 statements, triangular, min/max, strided and reversed bounds, affine
``if``/``else``, one or two parameters, scalar temporaries (assigned, accumulated, read) and
random affine subscripts into a few arrays. Subscripts stay inside their arrays by
construction: every iterator is bounded by a parameter or constant B (0 <= i <= B - 1), every
array extent is ``a*B + c``, and a subscript in that extent adds at most ``a`` terms each at
most B - 1 (``i``, ``B - 1 - i``, ``i // 2``, ``i % 3``) and an offset that fits the margin.

One check is a program under one option set at two sizes:

- the kernel equals the op run as plain Python (its executable meaning) within a tight
  tolerance (``fp_contract=True`` lets gcc fuse multiply-adds, which rounds differently);
- with ``fp_contract=False`` the kernel is bitwise equal to the untransformed generated code
  (``scheduler="identity"``, same flag), and that one is bitwise equal to Python.

The generator draws through a ``random.Random``-like object, so the same functions serve
hypothesis (``st.randoms()``) and ``polyk fuzz --seconds N`` (``random.Random(seed)``), and a
seed reproduces a program exactly: ``python3 -m polyk.fuzz --repro SEED``.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from .isl_budget import OVER_BUDGET, isl_operations

# ---------------------------------------------------------------- random programs

COEFS = ("0.5", "0.25", "-0.5", "0.75", "1.5", "-1.0", "2.0", "0.125")


@dataclass
class Loop:
    var: str
    bound: str          # the parameter or constant that bounds the iterator: 0 <= var < bound
    header: str         # the text after "for var in "
    body: list


@dataclass
class If:
    cond: str
    body: list
    orelse: list


@dataclass
class Stmt:
    text: str


@dataclass
class Program:
    """A random op: its source, the sizes it runs at, and how it was made (``seed``)."""

    source: str
    name: str
    params: tuple
    sizes: list                 # parameter values for each run, e.g. [{"N": 3}, {"N": 7}]
    seed: object = None
    n_statements: int = 0
    depth: int = 0

    def op(self):
        """The polyk op of the source (parsed by the Python front end)."""
        import polyk
        ns = {"polyk": polyk, "f64": polyk.f64}
        for p in self.params:
            ns[p] = polyk.params(p)
        return polyk.Op.from_source(self.source, namespace=ns, filename=f"<fuzz {self.name}>")


class _Gen:
    def __init__(self, rnd):
        self.r = rnd
        self.n_iters = 0
        self.n_scalars = 0
        self.stmts_left = 0
        self.max_depth = 0

    # -- small draws
    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randint(0, len(seq) - 1)]

    # -- the program
    def program(self, name: str) -> Program:
        r = self.r
        params = ("N",) if self.chance(0.5) else ("N", "M")
        self.params = params
        self.bounds = list(params) + ([str(r.randint(3, 6))] if self.chance(0.4) else [])
        if self.chance(0.08):    # constant bounds only: often a program without parameters
            self.bounds = [str(r.randint(3, 6))]
        # arrays: each dimension has a bound B, a multiplier a and a margin c
        self.arrays = []
        for k in range(r.randint(1, 3)):
            rank = r.randint(1, 3)
            dims = [(self.pick(self.bounds), 1 if self.chance(0.75) else 2, r.randint(1, 3))
                    for _ in range(rank)]
            self.arrays.append((f"{'ABC'[k]}", dims))
        self.has_alpha = self.chance(0.3)
        n_stmts = r.randint(1, 5)
        self.max_depth = r.randint(1, 4)
        self.stmts_left = n_stmts
        self.scalar_names = []
        top = self.block([], [], self.max_depth, n_stmts, top=True)
        args = []
        for a, dims in self.arrays:
            ext = ", ".join(_extent(b, m, c) for b, m, c in dims)
            args.append(f"{a}: f64[{ext}]")
        if self.has_alpha:
            args.append("alpha: f64")
        lines = [f"def {name}({', '.join(args)}):"]
        _emit(top, 1, lines)
        source = "\n".join(lines) + "\n"
        sizes = self.sizes(params)
        return Program(source, name, params, sizes, n_statements=n_stmts,
                       depth=_depth(top))

    def sizes(self, params):
        r = self.r
        budget = 6000   # keeps the plain-Python run fast
        out = []
        for small in (True, False):
            for _ in range(20):
                hi = 3 if small else 9
                sz = {p: r.randint(1, hi) for p in params}
                vol = max(sz.values()) ** self.max_depth
                if vol <= budget:
                    break
            else:
                sz = {p: 2 for p in params}
            out.append(sz)
        return out

    def block(self, iters, scalars, depth_left, n, top=False, allow_if=True):
        """Items holding ``n`` statements; ``iters`` are (name, bound) in scope."""
        items = []
        scalars = list(scalars)
        while n > 0:
            k = self.r.randint(1, n)
            roll = self.r.random()
            if depth_left > 0 and (top or roll < 0.55):
                items.append(self.loop(iters, scalars, depth_left, k))
            elif iters and allow_if and roll < 0.6:
                items.append(self.cond(iters, scalars, depth_left, k))
            else:
                k = 1
                if iters and self.chance(0.3) and not top:
                    name = self.pick(["t", "s"]) if self.chance(0.3) else f"t{self.n_scalars}"
                    self.n_scalars += 1
                    items.append(Stmt(f"{name} = {self.expr(iters, scalars)}"))
                    if name not in scalars:
                        scalars.append(name)
                else:
                    items.append(Stmt(self.statement(iters, scalars)))
            n -= k
        return items

    def loop(self, iters, scalars, depth_left, n):
        r = self.r
        v = f"{'ijklmnpq'[len(iters) % 8]}{'' if len(iters) < 8 else len(iters)}"
        B = self.pick(self.bounds)
        same = [w for w, b in iters if b == B]
        forms = [f"range({B})", f"range({r.randint(1, 2)}, {B})", f"range({B} - {r.randint(1, 2)})",
                 f"range(0, {B}, {r.randint(2, 3)})", f"range({r.randint(1, 2)}, {B}, {r.randint(2, 3)})",
                 f"range({B} - 1, -1, -1)", f"reversed(range({B}))",
                 f"range(min({r.randint(1, 3)}, {B}), {B})"]
        if same:
            w = self.pick(same)
            forms += [f"range({w} + 1)", f"range({w})", f"range({w}, {B})", f"range({w} + 1, {B})",
                      f"range(max(0, {w} - {r.randint(1, 2)}), min({B}, {w} + {r.randint(1, 3)}))",
                      f"range({w}, -1, -1)", f"range(max(1, {w}), {B})",
                      f"range({w} % 2, {B}, 2)", f"range({w} // 2 + 1)"]
        header = self.pick(forms)
        inner = iters + [(v, B)]
        scalars = list(scalars)
        body = []
        # a scalar temporary: set at the top of the body, maybe accumulated deeper, read later
        if n >= 2 and self.chance(0.35):
            name = f"s{self.n_scalars}"
            self.n_scalars += 1
            init = self.pick(["0.0", self.read(inner, scalars)])
            body.append(Stmt(f"{name} = {init}"))
            scalars.append(name)
            n -= 1
        body += self.block(inner, scalars, depth_left - 1, n)
        # accumulate into a scalar of an enclosing body now and then
        return Loop(v, B, header, body)

    def cond(self, iters, scalars, depth_left, n):
        r = self.r
        (a, ba) = self.pick(iters)
        forms = [f"{a} >= {r.randint(1, 2)}", f"{a} % 2 == {r.randint(0, 1)}",
                 f"{a} < {ba} - 1", f"2 * {a} + 1 >= {ba}", f"{a} % 3 != 1"]
        others = [w for w, _ in iters if w != a]
        if others:
            b = self.pick(others)
            forms += [f"{a} <= {b}", f"{a} + {b} < {ba}", f"2 * {a} >= {b} + 1", f"{a} != {b}",
                      f"{a} % 3 != 0 and {b} >= 1", f"{a} // 2 == {b} // 3", f"{a} > {b}"]
        cond = self.pick(forms)
        k = r.randint(1, n - 1) if n > 1 and self.chance(0.5) else n
        body = self.block(iters, scalars, depth_left, k, allow_if=False)
        orelse = (self.block(iters, scalars, depth_left, n - k, allow_if=False)
                  if n - k > 0 else [])
        return If(cond, body, orelse)

    def statement(self, iters, scalars):
        roll = self.r.random()
        if scalars and roll < 0.2:
            s = self.pick(scalars)
            return f"{s} += {self.expr(iters, scalars)}"
        a, dims = self.pick(self.arrays)
        target = f"{a}[{', '.join(self.subscript(iters, d) for d in dims)}]"
        op = self.pick(["=", "=", "+=", "-=", "+=", "*="])
        if op == "*=":
            return f"{target} *= {self.pick(['0.5', '-0.75', '1.25'])}"
        return f"{target} {op} {self.expr(iters, scalars)}"

    def expr(self, iters, scalars):
        terms = []
        for _ in range(self.r.randint(1, 3)):
            f = self.factor(iters, scalars)
            roll = self.r.random()
            if roll < 0.25:
                f = f"{f} * {self.factor(iters, scalars)}"
            elif roll < 0.3:
                f = f"max({f}, {self.factor(iters, scalars)})"
            elif roll < 0.35:
                f = f"abs({f})"
            elif roll < 0.4:
                f = f"{f} / 3.0"
            terms.append(f"{self.pick(COEFS)} * {f}" if self.chance(0.6) else f)
        out = terms[0]
        for t in terms[1:]:
            out += f" {self.pick(['+', '-', '+'])} {t}"
        return out

    def factor(self, iters, scalars):
        roll = self.r.random()
        if scalars and roll < 0.2:
            return self.pick(scalars)
        if self.has_alpha and roll < 0.28:
            return "alpha"
        if iters and roll < 0.34:   # an iterator's value, as a float
            return f"{self.pick(COEFS)} * {self.pick(iters)[0]}"
        if roll < 0.38:
            return f"{self.pick(COEFS)} * {self.pick(self.bounds)}"
        return self.read(iters, scalars)

    def read(self, iters, scalars):
        a, dims = self.pick(self.arrays)
        return f"{a}[{', '.join(self.subscript(iters, d) for d in dims)}]"

    def subscript(self, iters, dim):
        """An affine subscript in [0, a*B + c - 1] given 0 <= iterator <= B - 1."""
        B, a, c = dim
        same = [w for w, b in iters if b == B]
        terms = []
        for _ in range(self.r.randint(0 if not same else 1, a)):
            if same and self.chance(0.85):
                w = self.pick(same)
                terms.append(self.pick([w, w, w, f"{B} - 1 - {w}", f"{w} // 2", f"{w} % 3"]))
            else:
                terms.append(f"{B} - 1")
        off = self.r.randint(0, c - 1 + len(terms))
        if a == 2 and len(terms) == 1 and self.chance(0.3) and " " not in terms[0]:
            terms = [f"2 * {terms[0]}"]
            off = self.r.randint(0, c - 1 + 2)
        text = " + ".join(terms)
        if off or not text:
            text = f"{text} + {off}" if text else str(off)
        return text


def _extent(B, a, c):
    return f"{B} + {c}" if a == 1 else f"2 * {B} + {c}"


def _emit(items, level, lines):
    pad = "    " * level
    for it in items:
        if isinstance(it, Loop):
            lines.append(f"{pad}for {it.var} in {it.header}:")
            _emit(it.body, level + 1, lines)
        elif isinstance(it, If):
            lines.append(f"{pad}if {it.cond}:")
            _emit(it.body, level + 1, lines)
            if it.orelse:
                lines.append(f"{pad}else:")
                _emit(it.orelse, level + 1, lines)
        else:
            lines.append(pad + it.text)


def _depth(items) -> int:
    d = 0
    for it in items:
        if isinstance(it, Loop):
            d = max(d, 1 + _depth(it.body))
        elif isinstance(it, If):
            d = max(d, _depth(it.body), _depth(it.orelse))
    return d


def random_program(rnd, name: str = "fuzz") -> Program:
    """A random affine program drawn through ``rnd`` (``random.Random`` or hypothesis')."""
    return _Gen(rnd).program(name)


def program(seed: int) -> Program:
    """The program of ``polyk fuzz`` number ``seed``."""
    p = random_program(random.Random(seed), name=f"fuzz_{seed}")
    p.seed = seed
    return p


# ---------------------------------------------------------------- random option sets

TILES = (True, (1,), (2,), (3, 2), (1, 4, 2), (5, 5, 5), (2, 3, 1, 2), (32, 32))


def random_options(rnd, prog: Program | None = None) -> dict:
    """Keywords of ``polyk.generate``: a random valid option set over the fields that exist."""
    from .options import Options
    fields = {f.name for f in dataclasses.fields(Options)}
    r = rnd
    chance = lambda p: r.random() < p   # noqa: E731
    pick = lambda s: s[r.randint(0, len(s) - 1)]   # noqa: E731
    o = {"scheduler": pick(["pluto", "pluto", "isl", "identity"]),
         "target": pick(["c", "openmp"]),
         "fp_contract": chance(0.3)}
    if o["scheduler"] != "identity":
        o["fuse"] = pick(["smart", "max", "none"])
        if o["scheduler"] == "pluto":
            if chance(0.3):
                o["parallel_first"] = True
            if chance(0.15):
                o["coef_bound"] = pick([2, 3])
    if chance(0.5):
        o["tile"] = pick(TILES)
        if chance(0.25):
            o["tile"] = {0: pick(TILES[1:]), 1: pick(TILES[1:])}
        if chance(0.3):
            o["l2_tile"] = pick([True, (2,), (2, 3)])
    if chance(0.25):
        o["wavefront"] = pick([True, False])
    if chance(0.2):
        o["intratile"] = False
    if o["target"] == "openmp" and chance(0.3):
        o["omp_schedule"] = "runtime"
    if prog is not None and chance(0.15):
        o["sizes"] = dict(prog.sizes[0])
    # the newer transformations: each sampled when polyk.Options has it, dropped again
    # when Options refuses the combination (unroll_jam without tile, ...)
    extras = [n for n in EXTRA_OPTIONS if n in fields and chance(0.3)]
    for name in extras:
        o[name] = pick(EXTRA_OPTIONS[name])
    for name in extras:
        try:
            Options(**o)
            break
        except Exception:   # noqa: BLE001 - OptionsError; anything else shows up in check
            del o[name]
    return o


# Options of the newer transformations (values Options accepts on their own); each is
# sampled only when polyk.Options has the field.
EXTRA_OPTIONS: dict = {
    "diamond": ["auto", "auto", True, False],
    "separate": [True, False],
    "simd": ["omp", "ivdep", False],
    "vector_width": [128, 256, None],
    "unroll_jam": [None, False, (2, 2), (1, 2), (2, 1)],
    "scalar_replace": [True, False],
    "pack": [None, True, False],
    "home_scalars": [True, False],
}


# ---------------------------------------------------------------- hypothesis strategies

def programs():
    """A hypothesis strategy of random programs (hypothesis drives every draw and shrinks)."""
    from hypothesis import strategies as st
    return st.randoms(use_true_random=False).map(random_program)


def option_sets(prog: Program | None = None):
    """A hypothesis strategy of option sets (keywords of ``polyk.generate``)."""
    from hypothesis import strategies as st
    return st.randoms(use_true_random=False).map(lambda r: random_options(r, prog))


# ---------------------------------------------------------------- checking

@dataclass
class Outcome:
    """The result of one check (a program under one option set)."""

    status: str                 # "ok", "mismatch", "error", "refused", "budget"
    options: dict
    detail: str = ""


@dataclass
class Checker:
    """Runs a program's baselines once and checks option sets against them."""

    prog: Program
    threads: int = 2
    _op: object = None
    _inputs: list = field(default_factory=list)
    _python: list = field(default_factory=list)
    _identity: list = field(default_factory=list)

    def prepare(self):
        """Parse the program, run it as Python and as untransformed code at each size."""
        with _isl_budget():
            self._prepare()

    def _prepare(self):
        import polyk
        self._op = self.prog.op()
        # a parameter the program never uses is not one of the op's
        self.prog.sizes = [{p: v for p, v in sz.items() if p in self._op.params}
                           for sz in self.prog.sizes]
        base = polyk.generate(self._op, scheduler="identity", fp_contract=False)
        for k, sz in enumerate(self.prog.sizes):
            inp = self._op.make_inputs(sz, seed=k)
            self._inputs.append(inp)
            py = _copy(inp)
            self._op(**py, **sz)
            self._python.append(py)
            ident = _copy(inp)
            base(**ident, **sz)
            self._identity.append(ident)
            bad = _compare(ident, py, bitwise=True)
            if bad:
                raise Mismatch(f"untransformed code (identity, fp_contract=False) differs "
                               f"from the op run as Python at {sz}: {bad}")

    def check(self, options: dict) -> Outcome:
        import polyk
        try:
            with _isl_budget():
                k = polyk.generate(self._op, **options)
        except polyk.OptionsError as e:
            return Outcome("refused", options, str(e))
        except Exception as e:   # noqa: BLE001 - a crash inside polyk is what we look for
            if OVER_BUDGET in str(e):
                return Outcome("budget", options, f"isl budget: {e}")
            if isinstance(e, polyk.PolykError):
                if str(e).startswith(REQUIRED_BUT_INAPPLICABLE):
                    return Outcome("refused", options, str(e))   # asked for, not there
                return Outcome("error", options, f"{type(e).__name__}: {e}")
            return Outcome("error", options, traceback.format_exc(limit=8))
        fixed = options.get("sizes") or {}
        for sz, inp, py, ident in zip(self.prog.sizes, self._inputs, self._python,
                                      self._identity):
            if fixed and sz != fixed:
                continue
            got = _copy(inp)
            try:
                with polyk.openmp_threads(self.threads):
                    k(**got, **sz)
            except Exception:   # noqa: BLE001
                return Outcome("error", options, f"call at {sz}: " +
                               traceback.format_exc(limit=6))
            bad = _compare(got, py, bitwise=False)
            if bad:
                return Outcome("mismatch", options, f"differs from Python at {sz}: {bad}")
            if not options.get("fp_contract", True):
                bad = _compare(got, ident, bitwise=True)
                if bad:
                    return Outcome("mismatch", options, f"not bitwise equal to the "
                                   f"untransformed code at {sz}: {bad}")
        return Outcome("ok", options)


# Options that demand a transformation stop with these words when the program has no place
# for it: a clear refusal of the option set, not a failure.
REQUIRED_BUT_INAPPLICABLE = ("diamond=True, but",)


# isl operations one stage of a check may take (isl's own counter, not a clock): the
# dataflow analysis of some programs runs for minutes (a known limit, see
# tests/test_fuzz.py); past the budget isl stops with an error and the check counts as
# over budget. polyk's own budgets (dataflow, scheduler, AST check) nest inside this one
# and restart its count when they end (islpy does not expose the count), so it bounds each
# stage, not the whole check; the worker's --timeout bounds that. About 1 s of isl work per
# million operations on the machine measured.
ISL_OPERATIONS = 20_000_000


def _isl_budget(ops=None):
    return isl_operations(ISL_OPERATIONS if ops is None else ops)


class Mismatch(AssertionError):
    pass


def _copy(d):
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in d.items()}


def _compare(got: dict, want: dict, *, bitwise: bool) -> str:
    """'' when equal (bitwise, or within a tight tolerance), else where they differ."""
    for name, w in want.items():
        if not isinstance(w, np.ndarray):
            continue
        g = got[name]
        if bitwise:
            same = (g == w) | (np.isnan(g) & np.isnan(w))
        else:
            scale = np.nanmax(np.abs(np.where(np.isfinite(w), w, 0.0)), initial=1.0)
            same = np.isclose(g, w, rtol=1e-9, atol=1e-12 * scale, equal_nan=True)
        if not same.all():
            idx = tuple(int(x) for x in np.argwhere(~same)[0])
            return (f"{name}{list(idx)}: got {g[idx]!r}, want {w[idx]!r} "
                    f"({int((~same).sum())} of {same.size} elements)")
    return ""


def reproducer(prog: Program, outcome: Outcome) -> str:
    """Python text that rebuilds and re-runs a failing check."""
    params = ", ".join(prog.params)
    sizes = ", ".join(repr(s) for s in prog.sizes)
    return (f"import numpy as np, polyk\nfrom polyk import f64\n{params}, = "
            f"polyk.params({' '.join(prog.params)!r}),\n\n@polyk.op\n{prog.source}\n"
            f"k = polyk.generate({prog.name}, **{outcome.options!r})\n"
            f"for sz in [{sizes}]:   # compare with {prog.name}(**inputs, **sz)\n"
            f"    inputs = {prog.name}.make_inputs(sz, seed=0)\n"
            f"# or: python3 -m polyk.fuzz --repro {prog.seed}\n")


# ---------------------------------------------------------------- the long run

def check_seed(seed: int, n_options: int = 4, threads: int = 2):
    """Check program ``seed`` under ``n_options`` option sets drawn from the same seed.

    Returns (program, [Outcome]); a failing baseline is one "mismatch"/"error" outcome."""
    prog = program(seed)
    chk = Checker(prog, threads=threads)
    try:
        chk.prepare()
    except Mismatch as e:
        return prog, [Outcome("mismatch", {"scheduler": "identity", "fp_contract": False},
                              str(e))]
    except Exception as e:   # noqa: BLE001
        status = "budget" if OVER_BUDGET in str(e) else "error"
        return prog, [Outcome(status, {"scheduler": "identity", "fp_contract": False},
                              traceback.format_exc(limit=8))]
    rnd = random.Random(seed * 7919 + 1)
    return prog, [chk.check(random_options(rnd, prog)) for _ in range(n_options)]


def _worker(conn, n_options, threads):
    import logging
    import os
    import warnings
    # OpenMP threads that spin at barriers crawl when the machine is busy (a fuzz run shares
    # it, at low priority): sleeping waits keep a loaded run from looking like a hang
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    while True:
        seed = conn.recv()
        if seed is None:
            return
        prog, outs = check_seed(seed, n_options, threads)
        conn.send((prog, outs))


def fuzz(seconds: float, *, seed: int | None = None, n_options: int = 4, timeout: float = 120.0,
         threads: int = 2, out=None, stop_after: int | None = None) -> dict:
    """Check random programs for ``seconds``; print counts and each failure's reproducer.

    Each program runs in a worker process (started with 'spawn'), so a check that hangs
    (scheduler, isl's AST generator) is stopped after ``timeout`` seconds and reported."""
    import multiprocessing as mp
    import signal
    out = out or sys.stdout
    if threading_is_main():
        # a TERM (kill, a CI time limit) ends the run through the finally below: the
        # worker is stopped and the counts so far are printed
        signal.signal(signal.SIGTERM, _raise_exit)
    ctx = mp.get_context("spawn")
    start = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
    counts = {"programs": 0, "checks": 0, "ok": 0, "mismatch": 0, "error": 0, "refused": 0,
              "budget": 0, "timeout": 0, "first_seed": start}
    failures = []
    t_end = time.time() + seconds
    proc = conn = None
    s = start
    try:
        while time.time() < t_end and (stop_after is None or counts["programs"] < stop_after):
            if proc is None:
                conn, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, args=(child, n_options, threads),
                                   daemon=True)
                proc.start()
            conn.send(s)
            if not conn.poll(timeout):
                proc.kill()
                proc.join()
                proc = None
                counts["timeout"] += 1
                failures.append((s, f"no answer within {timeout:.0f} s"))
                print(f"TIMEOUT program {s} ({timeout:.0f} s): python3 -m polyk.fuzz "
                      f"--repro {s}", file=out, flush=True)
                s += 1
                continue
            prog, outs = conn.recv()
            counts["programs"] += 1
            for o in outs:
                counts["checks"] += 1
                counts[o.status] += 1
                if o.status in ("mismatch", "error"):
                    failures.append((s, o))
                    print(f"{o.status.upper()} program {s} options {o.options}\n"
                          f"{o.detail}\n--- reproducer ---\n{reproducer(prog, o)}", file=out,
                          flush=True)
            if counts["programs"] % 50 == 0:
                print(_summary(counts), file=out, flush=True)
            s += 1
    finally:
        if proc is not None:
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        counts["last_seed"] = s - 1
        print(_summary(counts) + " (final)", file=out, flush=True)
    counts["failures"] = failures
    return counts


def threading_is_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def _summary(c) -> str:
    return (f"programs {c['programs']}, option sets checked {c['checks']}: ok {c['ok']}, "
            f"mismatch {c['mismatch']}, error {c['error']}, refused option sets "
            f"{c['refused']}, over the isl budget {c['budget']}, programs timed out "
            f"{c['timeout']} (seeds from {c['first_seed']})")


def main(argv=None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python3 -m polyk.fuzz")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--seed", type=int)
    p.add_argument("--options", type=int, default=4, help="option sets per program")
    p.add_argument("--timeout", type=float, default=120, help="seconds per program")
    p.add_argument("--repro", type=int, metavar="SEED", help="print program SEED and check it")
    a = p.parse_args(argv)
    if a.repro is not None:
        prog, outs = check_seed(a.repro, a.options)
        print(prog.source)
        for o in outs:
            print(o.status, o.options, o.detail)
        return 1 if any(o.status in ("mismatch", "error") for o in outs) else 0
    c = fuzz(a.seconds, seed=a.seed, n_options=a.options, timeout=a.timeout)
    return 1 if c["mismatch"] or c["error"] or c["timeout"] else 0


if __name__ == "__main__":
    sys.exit(main())
