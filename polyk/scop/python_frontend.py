"""The Python front end: an affine loop nest written as a Python function becomes a Program.

    @polyk.op
    def gemm(alpha: f64, beta: f64, C: f64[NI, NJ], A: f64[NI, NK], B: f64[NK, NJ]):
        for i in range(NI):
            for j in range(NJ):
                C[i, j] *= beta
            ...

What is accepted: ``for`` over ``range``/``reversed(range)`` with affine bounds (min/max too)
and constant steps, affine ``if``/``elif``/``else``, assignments and augmented assignments to
array elements and scalar temporaries, arithmetic, comparisons, ``x if c else y`` and the math
calls a Python user writes. Anything else raises ``NotAffineError`` (or ``UnsupportedError``)
naming the file, line and expression.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import textwrap

import numpy as np

from ..errors import NotAffineError, UnsupportedError
from ..types import ArrayType, DType, Lin, Param
from .expr import (AAdd, AConst, AFloorDiv, AMinMax, AMod, AMul, AVar, Aff, Assign, EBin, EBool,
                   ECall, ECast, ECmp, EIndex, ELoad, ENum, ESelect, EUnary, aff_to_isl)
from .program import ArgSpec, LoopNode, Program, StmtInfo, range_constraints
from .typing import infer_types

# Functions a body may call, by the Python object they resolve to.
MATH_FUNCTIONS = {
    math.sqrt: "sqrt", math.exp: "exp", math.log: "log", math.sin: "sin", math.cos: "cos",
    math.tan: "tan", math.tanh: "tanh", math.fabs: "fabs", math.pow: "pow",
    math.floor: "floor", math.ceil: "ceil",
    np.sqrt: "sqrt", np.exp: "exp", np.log: "log", np.sin: "sin", np.cos: "cos", np.tan: "tan",
    np.tanh: "tanh", np.fabs: "fabs", np.power: "pow", np.floor: "floor", np.ceil: "ceil",
    np.abs: "abs", np.maximum: "max", np.minimum: "min",
    builtins.abs: "abs", builtins.min: "min", builtins.max: "max", builtins.pow: "pow",
}
CASTS = {builtins.float: "f64", builtins.int: "i64", np.float64: "f64", np.float32: "f32",
         np.int32: "i32", np.int64: "i64"}

_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
        ast.Mod: "%", ast.Pow: "**"}
_ISL_RESERVED = {"and", "or", "not", "exists", "mod", "floor", "ceil", "min", "max", "infty",
                 "true", "false", "rat", "implies", "xor"}


def parse_function(fn, *, assume: str | None = None) -> Program:
    """Parse a decorated Python function into a Program."""
    try:
        src = inspect.getsource(fn)
        filename = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as e:
        raise UnsupportedError(
            f"cannot read the source of {getattr(fn, '__name__', fn)!r} ({e}); "
            "define the op in a file, or use polyk.Op.from_source(text)") from None
    first = fn.__code__.co_firstlineno
    return _parse(src, filename, first, fn.__globals__, _closure_of(fn), fn, assume)


def parse_source(text: str, *, name: str | None = None, filename: str = "<string>",
                 namespace: dict | None = None, assume: str | None = None) -> Program:
    """Parse an op from source text (used for generated programs and tests)."""
    ns = {"__builtins__": builtins}
    ns.update(namespace or {})
    tree = ast.parse(textwrap.dedent(text))
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not fns:
        raise UnsupportedError("no function definition in the source", filename=filename)
    node = fns[0] if name is None else next((f for f in fns if f.name == name), None)
    if node is None:
        raise UnsupportedError(f"no function named {name!r} in the source", filename=filename)
    code = compile(ast.Module([node], []), filename, "exec")
    exec(code, ns)
    return _parse(textwrap.dedent(text), filename, 1, ns, {}, ns[node.name], assume,
                  node_name=node.name)


def _closure_of(fn) -> dict:
    out = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            out[name] = cell.cell_contents
        except ValueError:
            pass
    return out


def _parse(src, filename, first_line, globals_, closure, fn, assume, node_name=None):
    raw_lines = src.splitlines()
    indent = len(raw_lines[0]) - len(raw_lines[0].lstrip()) if raw_lines else 0
    dedented = textwrap.dedent(src)
    module = ast.parse(dedented)
    node = next((n for n in module.body if isinstance(n, ast.FunctionDef)
                 and (node_name is None or n.name == node_name)), None)
    if node is None:
        raise UnsupportedError("expected a function definition (def ...)", filename=filename,
                               line=first_line)
    p = _Parser(dedented, filename, first_line - 1, indent, globals_, closure)
    return p.parse(node, fn, assume)


class _Scope:
    """Names visible at a point of the body."""

    def __init__(self):
        self.iters: list[str] = []          # enclosing loop iterators
        self.loop_ids: list[int] = []       # their identities
        self.n_loops = 0
        self.closed: set[str] = set()       # iterators of loops already closed


class _Parser:
    def __init__(self, src, filename, line_offset, col_offset, globals_, closure):
        self.src = src
        self.filename = filename
        self.line_offset = line_offset
        self.col_offset = col_offset
        self.globals = globals_
        self.closure = closure
        self.args: dict[str, ArgSpec] = {}
        self.params: list[str] = []
        self.locals: dict[str, None] = {}   # ordered set of scalar temporaries
        self.assigned_locals: set[str] = set()
        self.statements: list[StmtInfo] = []
        self.scope = _Scope()
        self.n_exists = 0
        self.bound_names: set[str] = set()  # every name the body assigns (Python's locals)
        self.loop_names: set[str] = set()   # every name a for loop binds

    # ------------------------------------------------------------ errors
    def err(self, node, msg, cls=NotAffineError):
        code = ast.get_source_segment(self.src, node) if node is not None else None
        line = node.lineno + self.line_offset if node is not None else None
        col = node.col_offset + 1 + self.col_offset if node is not None else None
        return cls(msg, filename=self.filename, line=line, col=col, code=code)

    def text(self, node) -> str:
        return ast.get_source_segment(self.src, node) or ast.unparse(node)

    # ------------------------------------------------------------ top level
    def parse(self, fdef: ast.FunctionDef, fn, assume) -> Program:
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise self.err(fdef, "an op takes plain named arguments only (no *args, **kwargs, "
                           "keyword-only or positional-only arguments)", UnsupportedError)
        if a.defaults:
            raise self.err(fdef, "op arguments cannot have default values", UnsupportedError)
        try:
            # with "from __future__ import annotations" the annotations are strings: names
            # an op's body also uses (a parameter local to the defining function) are in
            # its closure
            hints = inspect.get_annotations(fn, eval_str=True, locals=dict(self.closure))
        except Exception as e:  # an annotation that does not evaluate
            raise self.err(fdef, f"cannot evaluate the argument annotations: {e}",
                           UnsupportedError) from None
        for arg in a.args:
            ann = hints.get(arg.arg)
            if isinstance(ann, ArrayType):
                spec = ArgSpec(arg.arg, ann.dtype, ann.shape)
                for d in ann.shape:
                    for p in d.params():
                        self._add_param(p, arg)
            elif isinstance(ann, DType):
                spec = ArgSpec(arg.arg, ann, None)
            else:
                raise self.err(arg, f"argument {arg.arg!r} needs an annotation such as f64 "
                               "(a scalar) or f64[N, M] (an array)", UnsupportedError)
            if arg.arg in self.args:
                raise self.err(arg, f"duplicate argument {arg.arg!r}", UnsupportedError)
            self.args[arg.arg] = spec
        # As in Python, a name the body assigns anywhere is local to the whole body: a read
        # before its assignment is an error, never the global of the same name.
        for n in ast.walk(fdef):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                self.bound_names.add(n.id)
            if isinstance(n, ast.For) and isinstance(n.target, ast.Name):
                self.loop_names.add(n.target.id)
        tree = self.block(fdef.body, constraints=())
        line = fdef.lineno + self.line_offset
        locals_ = {name: None for name in self.locals}
        prog = Program(name=fdef.name, filename=self.filename, line=line,
                       args=tuple(self.args.values()), params=tuple(self.params),
                       locals=locals_, statements=self.statements, tree=tree, assume=assume)
        infer_types(prog)
        return prog

    def _add_param(self, name: str, node=None):
        if name in self.params:
            return
        if name in _ISL_RESERVED or name.startswith("polyk_"):
            raise self.err(node, f"{name!r} cannot name a parameter (a reserved word of the "
                           "isl syntax polyk builds, or polyk's own prefix)", UnsupportedError)
        self.params.append(name)

    # ------------------------------------------------------------ statements
    def block(self, body, constraints) -> list:
        out = []
        for i, st in enumerate(body):
            if (i == 0 and isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)
                    and isinstance(st.value.value, str)):
                continue  # docstring
            if isinstance(st, ast.Pass):
                continue
            if isinstance(st, ast.For):
                out.append(self.for_loop(st, constraints))
            elif isinstance(st, ast.If):
                out.extend(self.if_stmt(st, constraints))
            elif isinstance(st, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                out.append(self.assignment(st, constraints))
            elif isinstance(st, ast.While):
                raise self.err(st, "while loops are not affine: write a for loop over range()",
                               UnsupportedError)
            elif isinstance(st, (ast.Break, ast.Continue, ast.Return)):
                kw = type(st).__name__.lower()
                raise self.err(st, f"'{kw}' makes control flow data-dependent; polyk needs "
                               "loops that run their whole range", UnsupportedError)
            else:
                raise self.err(st, f"unsupported statement ({type(st).__name__}); an op body "
                               "holds for loops, if statements and assignments",
                               UnsupportedError)
        return out

    def for_loop(self, st: ast.For, constraints) -> LoopNode:
        if st.orelse:
            raise self.err(st, "for ... else is not supported", UnsupportedError)
        if not isinstance(st.target, ast.Name):
            raise self.err(st.target, "the loop variable must be a single name",
                           UnsupportedError)
        it = st.target.id
        self._check_new_name(st.target, it)
        lo, hi, step = self.range_of(st.iter)
        if it in _ISL_RESERVED:
            raise self.err(st.target, f"{it!r} cannot name a loop variable", UnsupportedError)
        bound = range_constraints(it, lo, hi, step, f"polyk_e{self.n_exists}")
        self.n_exists += 1
        self.scope.iters.append(it)
        self.scope.loop_ids.append(self.scope.n_loops)
        self.scope.n_loops += 1
        self.scope.closed.discard(it)
        node = LoopNode(it, 1 if step > 0 else -1)
        node.children = self.block(st.body, constraints + tuple(bound))
        self.scope.iters.pop()
        self.scope.loop_ids.pop()
        self.scope.closed.add(it)
        return node

    def _check_new_name(self, node, name):
        if name in self.scope.iters:
            raise self.err(node, f"loop variable {name!r} is already the variable of an "
                           "enclosing loop", UnsupportedError)
        if name in self.args:
            raise self.err(node, f"loop variable {name!r} shadows an argument", UnsupportedError)
        if name in self.locals:
            raise self.err(node, f"loop variable {name!r} is also a scalar variable",
                           UnsupportedError)
        if isinstance(self._lookup_global(name), Param):
            raise self.err(node, f"loop variable {name!r} shadows a parameter", UnsupportedError)

    def range_of(self, node) -> tuple[Aff, Aff, int]:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and self._lookup_global(node.func.id) is builtins.reversed):
            if len(node.args) != 1 or node.keywords:
                raise self.err(node, "reversed() takes one range()", UnsupportedError)
            lo, hi, step = self.range_of(node.args[0])
            if step != 1:
                raise self.err(node, "reversed() of a range with a step is not supported; "
                               "write range(hi, lo, -step) with exact bounds", UnsupportedError)
            one = AConst(1)
            return AAdd(hi, one, -1), AAdd(lo, one, -1), -1
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and self._lookup_global(node.func.id) is builtins.range):
            raise self.err(node, "a loop must iterate over range(...) with affine bounds",
                           NotAffineError)
        if node.keywords or not 1 <= len(node.args) <= 3:
            raise self.err(node, "range() takes one to three positional arguments",
                           UnsupportedError)
        args = [self.aff(a, "loop bound") for a in node.args]
        if len(args) == 1:
            return AConst(0), args[0], 1
        step = 1
        if len(args) == 3:
            step = args[2].const_value()
            if step is None or step == 0:
                raise self.err(node.args[2], "a range step must be a nonzero integer constant",
                               NotAffineError)
        return args[0], args[1], step

    def if_stmt(self, st: ast.If, constraints) -> list:
        cond = self.condition(st.test)
        out = self.block(st.body, constraints + (cond,))
        if st.orelse:
            out += self.block(st.orelse, constraints + (f"not ({cond})",))
        return out

    def assignment(self, st, constraints) -> StmtInfo:
        if isinstance(st, ast.Assign):
            if len(st.targets) != 1 or isinstance(st.targets[0], (ast.Tuple, ast.List)):
                raise self.err(st, "assign one target at a time (no a = b = ..., no tuples)",
                               UnsupportedError)
            target_node, op = st.targets[0], None
        elif isinstance(st, ast.AnnAssign):
            if st.value is None:
                raise self.err(st, "a declaration without a value is not supported",
                               UnsupportedError)
            target_node, op = st.target, None
        else:
            target_node = st.target
            op = _BIN.get(type(st.op))
            if op is None:
                raise self.err(st, f"unsupported augmented assignment "
                               f"{type(st.op).__name__}", UnsupportedError)
        value = self.value(st.value)
        target = self.store_target(target_node)
        reads = [e for e in value.walk() if isinstance(e, ELoad)]
        if op is not None:
            reads.append(ELoad(target.array, target.indices))
        # a scalar temporary must be written before it is read (Python's UnboundLocalError)
        for r in reads:
            if (r.array in self.locals and r.array not in self.assigned_locals
                    and r.array not in self.args):
                raise self.err(st, f"scalar {r.array!r} is read before it is assigned",
                               UnsupportedError)
        if target.array in self.locals:
            self.assigned_locals.add(target.array)
        name = f"S{len(self.statements)}"
        info = StmtInfo(name=name, iterators=tuple(self.scope.iters),
                        constraints=tuple(constraints), body=Assign(target, value, op, reads),
                        filename=self.filename, line=st.lineno + self.line_offset,
                        col=st.col_offset + 1 + self.col_offset, code=self.text(st),
                        loops=tuple(self.scope.loop_ids))
        self.statements.append(info)
        return info

    def store_target(self, node) -> ELoad:
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.scope.iters or name in self.scope.closed:
                raise self.err(node, f"cannot assign to loop variable {name!r}",
                               UnsupportedError)
            if name in self.args:
                spec = self.args[name]
                if spec.is_array:
                    raise self.err(node, f"cannot rebind array argument {name!r}; assign to "
                                   f"its elements ({name}[...] = ...)", UnsupportedError)
                self.locals.setdefault(name, None)  # a scalar argument used as a variable
                self.assigned_locals.add(name)
                return ELoad(name, ())
            g = self._lookup_global(name)
            if isinstance(g, Param):
                raise self.err(node, f"cannot assign to parameter {name!r}", UnsupportedError)
            if name in _ISL_RESERVED or name.startswith("polyk_"):
                raise self.err(node, f"{name!r} cannot name a scalar variable",
                               UnsupportedError)
            self.locals.setdefault(name, None)
            return ELoad(name, ())
        if isinstance(node, ast.Subscript):
            load = self.subscript(node)
            return load
        raise self.err(node, "the target of an assignment must be an array element or a "
                       "scalar variable", UnsupportedError)

    # ------------------------------------------------------------ names
    def _lookup_global(self, name):
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name, None)

    def resolve(self, node: ast.Name):
        """('iter'|'param'|'const'|'array'|'scalar'|'local'|'object', value)"""
        name = node.id
        if name in self.scope.iters:
            return "iter", name
        if name in self.scope.closed:
            raise self.err(node, f"loop variable {name!r} is used outside its loop",
                           UnsupportedError)
        if name in self.args:
            spec = self.args[name]
            if spec.is_array:
                return "array", spec
            return ("local", name) if name in self.locals else ("scalar", spec)
        if name in self.locals:
            return "local", name
        if name in self.loop_names:
            raise self.err(node, f"loop variable {name!r} is used before its loop",
                           UnsupportedError)
        if name in self.bound_names:
            raise self.err(node, f"{name!r} is read before it is assigned (the body assigns "
                           f"it, so, as in Python, {name!r} is a local variable throughout)",
                           UnsupportedError)
        g = self._lookup_global(name)
        if isinstance(g, Param):
            self._add_param(g.name, node)
            return "param", g.name
        if isinstance(g, Lin):
            for p in g.coeffs:
                self._add_param(p, node)
            return "lin", g
        if isinstance(g, (int, np.integer)) and not isinstance(g, bool):
            return "const", int(g)
        if isinstance(g, (float, np.floating)):
            return "fconst", float(g)
        if g is None:
            raise self.err(node, f"name {name!r} is not defined (not an argument, loop "
                           "variable, parameter or assigned scalar)", UnsupportedError)
        return "object", g

    # ------------------------------------------------------------ affine expressions
    def aff(self, node, what="subscript") -> Aff:
        """Convert an integer affine expression of iterators and parameters."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int) and not isinstance(node.value, bool):
                return AConst(node.value)
            raise self.err(node, f"{what} must be an integer affine expression")
        if isinstance(node, ast.Name):
            kind, v = self.resolve(node)
            if kind == "iter":
                return AVar(v, "iter")
            if kind == "param":
                return AVar(v, "param")
            if kind == "const":
                return AConst(v)
            if kind == "lin":
                return self._lin_to_aff(v)
            if kind in ("scalar", "local"):
                raise self.err(node, f"{what} uses the value of scalar {node.id!r}: it is "
                               "data, not an affine function of loop variables and parameters")
            raise self.err(node, f"{what} must be an integer affine expression of loop "
                           "variables and parameters")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            e = self.aff(node.operand, what)
            return AMul(-1, e) if isinstance(node.op, ast.USub) else e
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            a = self.aff(node.left, what)
            b = self.aff(node.right, what)
            if op is ast.Add:
                return _fold(AAdd(a, b, 1))
            if op is ast.Sub:
                return _fold(AAdd(a, b, -1))
            if op is ast.Mult:
                ca, cb = a.const_value(), b.const_value()
                if ca is not None:
                    return _fold(AMul(ca, b))
                if cb is not None:
                    return _fold(AMul(cb, a))
                raise self.err(node, f"{what} is not affine: a product of two variables")
            if op in (ast.FloorDiv, ast.Mod):
                d = b.const_value()
                if d is None:
                    raise self.err(node, f"{what} is not affine: division by a variable")
                if d == 0:
                    raise self.err(node, f"{what} divides by zero")
                if op is ast.FloorDiv:
                    return _fold(AFloorDiv(a, d) if d > 0 else AFloorDiv(AMul(-1, a), -d))
                # Python: a % -d == -((-a) % d)
                return _fold(AMod(a, d) if d > 0 else AMul(-1, AMod(AMul(-1, a), -d)))
            raise self.err(node, f"{what} is not affine (operator "
                           f"{ast.unparse(node.op).strip() or type(node.op).__name__})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f = self._lookup_global(node.func.id)
            if f in (builtins.min, builtins.max) and len(node.args) >= 2 and not node.keywords:
                args = tuple(self.aff(a, what) for a in node.args)
                return _fold(AMinMax("min" if f is builtins.min else "max", args))
        if isinstance(node, ast.Subscript):
            raise self.err(node, f"{what} depends on array data (an indirect access): not "
                           "affine")
        raise self.err(node, f"{what} must be an integer affine expression of loop variables "
                       "and parameters")

    def _lin_to_aff(self, lin: Lin) -> Aff:
        e: Aff = AConst(lin.const)
        for p, c in lin.coeffs.items():
            self._add_param(p)
            e = AAdd(e, AMul(c, AVar(p, "param")), 1)
        return _fold(e)

    def condition(self, node) -> str:
        """An affine condition as an isl constraint string."""
        if isinstance(node, ast.BoolOp):
            op = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + op.join(self.condition(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"not ({self.condition(node.operand)})"
        if isinstance(node, ast.Compare):
            parts = []
            left = self.aff(node.left, "condition")
            for op, right_node in zip(node.ops, node.comparators):
                if type(op) not in _CMP:
                    raise self.err(node, "unsupported comparison in a condition",
                                   UnsupportedError)
                right = self.aff(right_node, "condition")
                sym = {"==": "="}.get(_CMP[type(op)], _CMP[type(op)])
                parts.append(f"{aff_to_isl(left)} {sym} {aff_to_isl(right)}")
                left = right
            return "(" + " and ".join(parts) + ")"
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return "(0 = 0)" if node.value else "(0 = 1)"
        raise self.err(node, "an if condition must compare affine expressions of loop "
                       "variables and parameters (data-dependent conditions belong in a "
                       "value: x if cond else y)")

    # ------------------------------------------------------------ values
    def subscript(self, node: ast.Subscript) -> ELoad:
        base, idx_nodes = node, []
        while isinstance(base, ast.Subscript):
            sl = base.slice
            elts = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
            idx_nodes = elts + idx_nodes
            base = base.value
        if not isinstance(base, ast.Name):
            raise self.err(node, "only named arrays can be indexed", UnsupportedError)
        kind, spec = self.resolve(base)
        if kind != "array":
            raise self.err(node, f"{base.id!r} is not an array argument", UnsupportedError)
        for i in idx_nodes:
            if isinstance(i, ast.Slice):
                raise self.err(node, "slices are not supported: write the loop",
                               UnsupportedError)
        if len(idx_nodes) != len(spec.shape):
            raise self.err(node, f"array {spec.name!r} has {len(spec.shape)} dimension(s) but "
                           f"is indexed with {len(idx_nodes)}", UnsupportedError)
        return ELoad(spec.name, tuple(self.aff(i, "subscript") for i in idx_nodes))

    def value(self, node):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.err(node, f"unsupported constant {v!r}", UnsupportedError)
            return ENum(v)
        if isinstance(node, ast.Name):
            kind, v = self.resolve(node)
            if kind in ("iter", "param"):
                return EIndex(AVar(v, kind))
            if kind == "const":
                return ENum(v)
            if kind == "fconst":
                return ENum(v)
            if kind == "lin":
                return EIndex(self._lin_to_aff(v))
            if kind == "scalar":
                return ELoad(v.name, ())
            if kind == "local":
                return ELoad(v, ())
            if kind == "array":
                raise self.err(node, f"array {node.id!r} used without a subscript",
                               UnsupportedError)
            raise self.err(node, f"{node.id!r} cannot be used as a value", UnsupportedError)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            op = _BIN.get(type(node.op))
            if op is None:
                raise self.err(node, "unsupported operator", UnsupportedError)
            a, b = self.value(node.left), self.value(node.right)
            if (op in "+-" and isinstance(a, EIndex) and isinstance(b, EIndex)):
                return EIndex(_fold(AAdd(a.aff, b.aff, 1 if op == "+" else -1)))
            if op == "**":
                if not (isinstance(b, ENum) or isinstance(b, EIndex)
                        and b.aff.const_value() is not None) and _intlike(a):
                    raise self.err(node, "an integer power needs a constant exponent",
                                   UnsupportedError)
            return EBin(op, a, b)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return EBool("not", (self.value(node.operand),))
            a = self.value(node.operand)
            if isinstance(node.op, ast.UAdd):
                return a
            if isinstance(node.op, ast.USub):
                if isinstance(a, ENum):
                    return ENum(-a.value)
                if isinstance(a, EIndex):
                    return EIndex(_fold(AMul(-1, a.aff)))
                return EUnary("-", a)
            raise self.err(node, "unsupported unary operator", UnsupportedError)
        if isinstance(node, ast.Compare):
            parts = []
            left = self.value(node.left)
            for op, rn in zip(node.ops, node.comparators):
                if type(op) not in _CMP:
                    raise self.err(node, "unsupported comparison", UnsupportedError)
                right = self.value(rn)
                parts.append(ECmp(_CMP[type(op)], left, right))
                left = right
            return parts[0] if len(parts) == 1 else EBool("and", tuple(parts))
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return EBool(op, tuple(self.value(v) for v in node.values))
        if isinstance(node, ast.IfExp):
            return ESelect(self.value(node.test), self.value(node.body), self.value(node.orelse))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.err(node, f"unsupported expression ({type(node).__name__})",
                       UnsupportedError)

    def call(self, node: ast.Call):
        fobj = self._callee(node.func)
        if node.keywords:
            raise self.err(node, "keyword arguments are not supported in calls",
                           UnsupportedError)
        args = tuple(self.value(a) for a in node.args)
        name = MATH_FUNCTIONS.get(fobj) if _hashable(fobj) else None
        if name is not None:
            want = {"pow": 2, "min": None, "max": None}.get(name, 1)
            if want is None and len(args) < 2 or want is not None and len(args) != want:
                raise self.err(node, f"{self.text(node.func)}() takes "
                               f"{'two or more' if want is None else want} argument(s)",
                               UnsupportedError)
            if name in ("min", "max") and len(args) > 2:
                out = args[0]
                for a in args[1:]:
                    out = ECall(name, (out, a))
                return out
            return ECall(name, args)
        to = CASTS.get(fobj) if _hashable(fobj) else None
        if to is not None:
            if len(args) != 1:
                raise self.err(node, "a cast takes one argument", UnsupportedError)
            from ..types import DTYPES
            return ECast(DTYPES[to], args[0])
        raise self.err(node, f"call to unknown function {self.text(node.func)!r}: polyk knows "
                       "math.sqrt/exp/log/sin/cos/tan/tanh/fabs/pow/floor/ceil, abs, min, max, "
                       "float, int", UnsupportedError)

    def _callee(self, func):
        if isinstance(func, ast.Name):
            if func.id in self.args or func.id in self.locals or func.id in self.scope.iters:
                raise self.err(func, f"{func.id!r} is not a function", UnsupportedError)
            return self._lookup_global(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            mod = self._lookup_global(func.value.id)
            return getattr(mod, func.attr, None) if mod is not None else None
        raise self.err(func, "unsupported call", UnsupportedError)


def _hashable(x) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False


def _intlike(e) -> bool:
    return isinstance(e, EIndex) or isinstance(e, ENum) and isinstance(e.value, int)


def _fold(e: Aff) -> Aff:
    v = e.const_value()
    return AConst(v) if v is not None else e
