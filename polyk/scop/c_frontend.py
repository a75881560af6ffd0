"""The C front end: the ``#pragma scop`` region of a C function becomes a Program.

    void kernel_gemm(int NI, int NJ, int NK, double alpha, double beta,
                     double C[NI][NJ], double A[NI][NK], double B[NK][NJ])
    {
      int i, j, k;
    #pragma scop
      for (i = 0; i < NI; i++) { ... }
    #pragma endscop
    }

The file is run through the C preprocessor (with fake standard headers, since pycparser
cannot read glibc's) and parsed with pycparser. The enclosing function's integer
parameters are the op's parameters, its floating-point parameters scalar arguments, and
its array parameters (C99 variable-length arrays, or pointers with ``shapes=``) its arrays.
C's typing is kept: literals are typed, ``/`` and ``%`` on integers truncate (and where they
appear in subscripts or bounds, their left operand must be provably non-negative). After
parsing, everything is shared with the Python front end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from pycparser import c_ast, c_parser

try:                                   # pycparser >= 3
    from pycparser.c_parser import ParseError
except ImportError:                    # pycparser 2.x
    from pycparser.plyparser import ParseError

from ..errors import NotAffineError, UnsupportedError
from ..types import DTYPES, Lin
from .expr import (AAdd, AConst, AFloorDiv, AMinMax, AMod, AMul, AVar, Aff, Assign, EBin, EBool,
                   ECall, ECast, ECmp, EIndex, ELoad, ENum, ESelect, EUnary, aff_to_isl)
from .program import (ArgSpec, LoopNode, NonNegative, Program, StmtInfo, range_constraints)
from .typing import infer_types

_TYPES = {
    ("double",): "f64", ("float",): "f32", ("int",): "i32", ("signed", "int"): "i32",
    ("long",): "i64", ("long", "int"): "i64", ("long", "long"): "i64",
    ("long", "long", "int"): "i64", ("int64_t",): "i64", ("int32_t",): "i32",
    ("size_t",): "i64", ("ptrdiff_t",): "i64",
}
# C math functions: name -> (polyk function, argument type)
_C_MATH = {
    "sqrt": ("sqrt", "f64"), "exp": ("exp", "f64"), "log": ("log", "f64"),
    "sin": ("sin", "f64"), "cos": ("cos", "f64"), "tan": ("tan", "f64"),
    "tanh": ("tanh", "f64"), "fabs": ("fabs", "f64"), "pow": ("pow", "f64"),
    "floor": ("floor", "f64"), "ceil": ("ceil", "f64"),
    "sqrtf": ("sqrt", "f32"), "expf": ("exp", "f32"), "logf": ("log", "f32"),
    "sinf": ("sin", "f32"), "cosf": ("cos", "f32"), "tanf": ("tan", "f32"),
    "tanhf": ("tanh", "f32"), "fabsf": ("fabs", "f32"), "powf": ("pow", "f32"),
    "floorf": ("floor", "f32"), "ceilf": ("ceil", "f32"),
}
_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_ISL_RESERVED = {"and", "or", "not", "exists", "mod", "floor", "ceil", "min", "max", "infty",
                 "true", "false", "rat", "implies", "xor"}


def fake_libc_dir() -> str:
    import pycparser_fake_libc
    return pycparser_fake_libc.directory


def preprocess(text: str, filename: str, *, defines=None, include_dirs=None) -> str:
    """Run the C preprocessor with fake standard headers and the user's -D/-I options."""
    cpp = shutil.which(os.environ.get("CPP", "") or "cpp") or shutil.which("gcc")
    if cpp is None:
        raise UnsupportedError("no C preprocessor (cpp or gcc) found on PATH")
    cmd = [cpp] + (["-E"] if cpp.endswith("gcc") else [])
    cmd += ["-nostdinc", "-I", fake_libc_dir(), "-D__attribute__(x)=", "-D__restrict__=restrict",
            "-D__restrict=restrict", "-D__inline=inline", "-D__extension__="]
    base = os.path.dirname(os.path.abspath(filename)) if os.path.exists(filename) else os.getcwd()
    cmd += ["-I", base]
    for d in include_dirs or ():
        cmd += ["-I", str(d)]
    for k, v in _defines(defines):
        cmd.append(f"-D{k}" if v is None else f"-D{k}={v}")
    cmd += ["-x", "c", "-"]
    proc = subprocess.run(cmd, input=f'# 1 "{filename}"\n' + text, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise UnsupportedError(f"the C preprocessor failed:\n{proc.stderr.strip()}",
                               filename=filename)
    return proc.stdout


def _defines(defines):
    if not defines:
        return []
    if isinstance(defines, dict):
        return list(defines.items())
    out = []
    for d in defines:
        k, _, v = str(d).partition("=")
        out.append((k, v or None))
    return out


def parse_c(text: str, filename: str = "<string>", *, function: str | None = None,
            defines=None, include_dirs=None, shapes: dict | None = None,
            assume: str | None = None) -> tuple[Program, str]:
    """Parse the scop region of ``text``; returns the Program and the function's name."""
    pre = preprocess(text, filename, defines=defines, include_dirs=include_dirs)
    try:
        ast = c_parser.CParser().parse(pre, filename)
    except ParseError as e:
        m = re.match(r"(.*?):(\d+):(\d+): (.*)", str(e))
        if m:
            raise UnsupportedError(f"C syntax error: {m.group(4)}", filename=m.group(1),
                                   line=int(m.group(2)), col=int(m.group(3))) from None
        located = _gcc_syntax_error(pre)   # pycparser gave no position: ask the compiler
        if located is not None:
            f, line, col, msg = located
            raise UnsupportedError(f"C syntax error: {msg}", filename=f, line=line,
                                   col=col) from None
        raise UnsupportedError(f"C syntax error: {e}", filename=filename) from None
    funcs = [n for n in ast.ext if isinstance(n, c_ast.FuncDef)]
    with_scop = [f for f in funcs if _find_region(f.body) is not None]
    if function is not None:
        chosen = [f for f in funcs if f.decl.name == function]
        if not chosen:
            raise UnsupportedError(f"no function named {function!r}", filename=filename)
        if _find_region(chosen[0].body) is None:
            raise UnsupportedError(f"function {function!r} has no #pragma scop region",
                                   filename=filename, line=chosen[0].coord.line)
        fdef = chosen[0]
    elif len(with_scop) == 1:
        fdef = with_scop[0]
    elif not with_scop:
        raise UnsupportedError("no '#pragma scop' ... '#pragma endscop' region in any function",
                               filename=filename)
    else:
        raise UnsupportedError("several functions have a scop region: choose one with "
                               f"function= ({', '.join(f.decl.name for f in with_scop)})",
                               filename=filename)
    p = _CParser(filename, shapes or {})
    return p.parse(fdef, assume), fdef.decl.name


def _gcc_syntax_error(preprocessed: str):
    """(file, line, column, message) of the first error gcc finds, if any."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    proc = subprocess.run([gcc, "-fsyntax-only", "-w", "-x", "c", "-"], input=preprocessed,
                          capture_output=True, text=True)
    for ln in proc.stderr.splitlines():
        m = re.match(r"(.*?):(\d+):(\d+): error: (.*)", ln)
        if m:
            return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    return None


def _find_region(body: c_ast.Compound):
    """(block, start, end) of the statements between the scop pragmas, searched in nested
    blocks too."""
    items = body.block_items or []
    start = end = None
    for k, it in enumerate(items):
        if isinstance(it, c_ast.Pragma) and it.string.strip() == "scop":
            start = k
        elif isinstance(it, c_ast.Pragma) and it.string.strip() == "endscop" and \
                start is not None:
            end = k
            return body, start, end
    for it in items:
        for child in _compounds(it):
            found = _find_region(child)
            if found is not None:
                return found
    return None


def _compounds(node):
    if isinstance(node, c_ast.Compound):
        yield node
        return
    for _, child in node.children():
        yield from _compounds(child)


class _CParser:
    def __init__(self, filename, shapes):
        self.filename = filename
        self.shapes = shapes
        self.params: list[str] = []
        self.args: dict[str, ArgSpec] = {}
        self.int_vars: set[str] = set()        # integer locals (loop variables)
        self.locals: dict = {}                 # scalar temporaries -> DType
        self.iters: list[str] = []
        self.loop_ids: list[int] = []
        self.n_loops = 0
        self.statements: list[StmtInfo] = []
        self.checks: list[NonNegative] = []
        self.n_exists = 0
        self.lines: dict[str, list[str]] = {}
        self._pending_divs: list = []           # C divisions awaiting a sign check
        self.region_locals: list[str] = []

    # ------------------------------------------------------------ errors
    def err(self, node, msg, cls=NotAffineError):
        coord = getattr(node, "coord", None)
        filename = coord.file if coord is not None and coord.file else self.filename
        line = coord.line if coord is not None else None
        col = coord.column if coord is not None else None
        return cls(msg, filename=filename, line=line, col=col, code=self.code_at(filename, line))

    def code_at(self, filename, line):
        if line is None:
            return None
        if filename not in self.lines:
            try:
                with open(filename) as f:
                    self.lines[filename] = f.read().splitlines()
            except OSError:
                self.lines[filename] = []
        lines = self.lines[filename]
        return lines[line - 1] if 0 < line <= len(lines) else None

    # ------------------------------------------------------------ signature
    def parse(self, fdef: c_ast.FuncDef, assume) -> Program:
        decl = fdef.decl.type
        params = decl.args.params if decl.args else []
        for prm in params:
            if isinstance(prm, c_ast.EllipsisParam):
                raise self.err(prm, "variadic functions are not supported", UnsupportedError)
            if isinstance(prm.type, c_ast.TypeDecl) and \
                    isinstance(prm.type.type, c_ast.IdentifierType) and \
                    prm.type.type.names == ["void"]:
                continue
            self._param(prm)
        self._check_divs(fdef, ())
        for item in fdef.body.block_items or []:
            if isinstance(item, c_ast.Decl):
                self._local_decl(item)
        block, start, end = _find_region(fdef.body)
        region = block.block_items[start + 1:end]
        for item in block.block_items[:start]:
            if isinstance(item, c_ast.Decl) and block is not fdef.body:
                self._local_decl(item)
        tree = self.block(region, ())
        locals_ = dict(self.locals)
        prog = Program(name=fdef.decl.name, filename=self.filename,
                       line=fdef.coord.line, args=tuple(self.args.values()),
                       params=tuple(self.params), locals=locals_,
                       statements=self.statements, tree=tree, assume=assume, language="c",
                       checks=self.checks, region_locals=tuple(self.region_locals))
        # temporaries that are never assigned in the region are not part of the SCoP
        written = {s.body.target.array for s in self.statements}
        prog.locals = {k: v for k, v in locals_.items() if k in written}
        infer_types(prog)
        return prog

    def _param(self, prm: c_ast.Decl):
        name = prm.name
        t = prm.type
        if isinstance(t, c_ast.TypeDecl):
            dt = self._dtype(t.type, prm)
            if dt.name in ("i32", "i64"):
                if name in _ISL_RESERVED:
                    raise self.err(prm, f"{name!r} cannot name a parameter", UnsupportedError)
                self.params.append(name)
            else:
                self.args[name] = ArgSpec(name, dt, None)
            return
        if isinstance(t, c_ast.ArrayDecl):
            dims = []
            while isinstance(t, c_ast.ArrayDecl):
                if t.dim is None:
                    raise self.err(prm, f"array {name} needs its extents: declare it as "
                                   f"{name}[N][M] or pass shapes={{'{name}': ('N', 'M')}}",
                                   UnsupportedError)
                dims.append(t.dim)
                t = t.type
            dt = self._dtype(t.type, prm)
            shape = tuple(self._lin(d, f"extent of {name}") for d in dims)
            if name in self.shapes:
                shape = self._user_shape(name, prm)
            self.args[name] = ArgSpec(name, dt, shape)
            return
        if isinstance(t, c_ast.PtrDecl):
            inner = t.type
            if not isinstance(inner, c_ast.TypeDecl):
                raise self.err(prm, f"parameter {name}: only pointers to numbers are "
                               "supported", UnsupportedError)
            if name not in self.shapes:
                raise self.err(prm, f"pointer parameter {name} has no extent: pass "
                               f"shapes={{'{name}': ('N', ...)}} or declare it as a "
                               "variable-length array", UnsupportedError)
            dt = self._dtype(inner.type, prm)
            self.args[name] = ArgSpec(name, dt, self._user_shape(name, prm))
            return
        raise self.err(prm, f"unsupported parameter type for {name}", UnsupportedError)

    def _user_shape(self, name, node):
        dims = self.shapes[name]
        if isinstance(dims, (str, int)):
            dims = (dims,)
        out = []
        for d in dims:
            if isinstance(d, int):
                out.append(Lin({}, d))
            else:
                try:
                    expr = c_parser.CParser().parse(f"int x = {d};").ext[0].init
                except ParseError:
                    raise self.err(node, f"cannot read the extent {d!r} of {name}",
                                   UnsupportedError) from None
                out.append(self._lin(expr, f"extent of {name}"))
        return tuple(out)

    def _dtype(self, t, node):
        if not isinstance(t, c_ast.IdentifierType):
            raise self.err(node, "unsupported type (structs, unions, enums)", UnsupportedError)
        key = tuple(n for n in t.names if n not in ("const", "volatile", "restrict"))
        if key not in _TYPES:
            raise self.err(node, f"unsupported element type {' '.join(t.names)!r}: polyk "
                           "handles double, float, int and 64-bit integers", UnsupportedError)
        return DTYPES[_TYPES[key]]

    def _local_decl(self, d: c_ast.Decl):
        if not isinstance(d.type, c_ast.TypeDecl):
            return  # local arrays and pointers: refused if the region uses them
        dt = self._dtype(d.type.type, d)
        if dt.name in ("i32", "i64"):
            self.int_vars.add(d.name)
        else:
            self.locals[d.name] = dt

    def _lin(self, node, what) -> Lin:
        aff = self.aff(node, what, params_only=True)
        lin = _aff_to_lin(aff)
        if lin is None:
            raise self.err(node, f"{what} must be an affine expression of the parameters")
        return lin

    # ------------------------------------------------------------ statements
    def block(self, items, constraints) -> list:
        out = []
        for st in items:
            if st is None or isinstance(st, c_ast.EmptyStatement):
                continue
            if isinstance(st, c_ast.Compound):
                out.extend(self.block(st.block_items or [], constraints))
            elif isinstance(st, c_ast.For):
                out.append(self.for_loop(st, constraints))
            elif isinstance(st, c_ast.If):
                out.extend(self.if_stmt(st, constraints))
            elif isinstance(st, c_ast.Assignment):
                out.append(self.assignment(st, st.lvalue, st.op, st.rvalue, constraints))
            elif isinstance(st, c_ast.Decl):
                out.extend(self.declaration(st, constraints))
            elif isinstance(st, c_ast.Pragma):
                continue
            elif isinstance(st, (c_ast.While, c_ast.DoWhile)):
                raise self.err(st, "while loops are not affine: write a for loop",
                               UnsupportedError)
            elif isinstance(st, (c_ast.Goto, c_ast.Label)):
                raise self.err(st, "goto and labels are not supported in a scop",
                               UnsupportedError)
            elif isinstance(st, (c_ast.Break, c_ast.Continue, c_ast.Return)):
                kw = type(st).__name__.lower()
                raise self.err(st, f"'{kw}' makes control flow data-dependent",
                               UnsupportedError)
            elif isinstance(st, c_ast.Switch):
                raise self.err(st, "switch is not supported in a scop", UnsupportedError)
            elif isinstance(st, c_ast.FuncCall):
                raise self.err(st, f"call to {_text(st.name)}() as a statement: it may have "
                               "side effects polyk cannot see", UnsupportedError)
            elif isinstance(st, c_ast.UnaryOp) and st.op in ("p++", "p--", "++", "--"):
                target = st.expr
                one = c_ast.Constant("int", "1", st.coord)
                out.append(self.assignment(st, target, "+=" if "+" in st.op else "-=", one,
                                           constraints))
            else:
                raise self.err(st, f"unsupported statement ({type(st).__name__})",
                               UnsupportedError)
        return out

    def declaration(self, d: c_ast.Decl, constraints) -> list:
        if not isinstance(d.type, c_ast.TypeDecl):
            raise self.err(d, "arrays or pointers declared inside a scop are not supported",
                           UnsupportedError)
        dt = self._dtype(d.type.type, d)
        if d.name in self.iters or d.name in self.args or d.name in self.params:
            raise self.err(d, f"declaration of {d.name!r} shadows a name in use",
                           UnsupportedError)
        if dt.name in ("i32", "i64") and d.init is None:
            self.int_vars.add(d.name)
            return []
        self.locals[d.name] = dt
        self.region_locals.append(d.name)
        if d.init is None:
            return []
        target = c_ast.ID(d.name, d.coord)
        return [self.assignment(d, target, "=", d.init, constraints)]

    def for_loop(self, st: c_ast.For, constraints) -> LoopNode:
        it, lo = self._loop_init(st)
        if it in self.iters:
            raise self.err(st, f"loop variable {it!r} is already used by an enclosing loop",
                           UnsupportedError)
        step = self._loop_step(st, it)
        hi = self._loop_bound(st, it, step, constraints)
        if st.cond is None:
            raise self.err(st, "a loop needs a condition", NotAffineError)
        bound = range_constraints(it, lo, hi, step, f"polyk_e{self.n_exists}")
        self.n_exists += 1
        self._check_divs(st, constraints)
        self.iters.append(it)
        self.loop_ids.append(self.n_loops)
        self.n_loops += 1
        node = LoopNode(it, 1 if step > 0 else -1)
        body = st.stmt.block_items if isinstance(st.stmt, c_ast.Compound) else [st.stmt]
        node.children = self.block(body or [], constraints + bound)
        self.iters.pop()
        self.loop_ids.pop()
        return node

    def _loop_init(self, st):
        init = st.init
        if isinstance(init, c_ast.DeclList) and len(init.decls) == 1:
            d = init.decls[0]
            dt = self._dtype(d.type.type, d) if isinstance(d.type, c_ast.TypeDecl) else None
            if dt is None or dt.name not in ("i32", "i64") or d.init is None:
                raise self.err(st, "a loop must start with 'int i = <affine expression>'",
                               UnsupportedError)
            self.int_vars.add(d.name)
            return d.name, self.aff(d.init, "loop bound")
        if isinstance(init, c_ast.Assignment) and init.op == "=" and \
                isinstance(init.lvalue, c_ast.ID):
            name = init.lvalue.name
            if name not in self.int_vars:
                raise self.err(st, f"loop variable {name!r} must be a local integer variable",
                               UnsupportedError)
            return name, self.aff(init.rvalue, "loop bound")
        raise self.err(st, "a loop must start with 'i = <affine expression>'", UnsupportedError)

    def _loop_step(self, st, it) -> int:
        nxt = st.next
        if isinstance(nxt, c_ast.UnaryOp) and isinstance(nxt.expr, c_ast.ID) and \
                nxt.expr.name == it:
            if nxt.op in ("p++", "++"):
                return 1
            if nxt.op in ("p--", "--"):
                return -1
        if isinstance(nxt, c_ast.Assignment) and isinstance(nxt.lvalue, c_ast.ID) and \
                nxt.lvalue.name == it:
            if nxt.op in ("+=", "-="):
                c = self.aff(nxt.rvalue, "loop step").const_value()
                if c is None or c == 0:
                    raise self.err(st, "a loop step must be a nonzero constant",
                                   NotAffineError)
                return c if nxt.op == "+=" else -c
            if nxt.op == "=" and isinstance(nxt.rvalue, c_ast.BinaryOp) and \
                    nxt.rvalue.op in "+-" and _is_id(nxt.rvalue.left, it):
                c = self.aff(nxt.rvalue.right, "loop step").const_value()
                if c is None or c == 0:
                    raise self.err(st, "a loop step must be a nonzero constant",
                                   NotAffineError)
                return c if nxt.rvalue.op == "+" else -c
        raise self.err(st, f"the loop must step {it} by a constant (i++, i--, i += c)",
                       UnsupportedError)

    def _loop_bound(self, st, it, step, constraints) -> Aff:
        """The exclusive bound ``hi`` of range(lo, hi, step) from the loop condition."""
        terms = []

        def collect(c):
            if isinstance(c, c_ast.BinaryOp) and c.op == "&&":
                collect(c.left)
                collect(c.right)
                return
            if not (isinstance(c, c_ast.BinaryOp) and c.op in ("<", "<=", ">", ">=")):
                raise self.err(c, f"the loop condition must compare {it} with affine bounds "
                               "(<, <=, >, >=, joined by &&)", NotAffineError)
            op, left, right = c.op, c.left, c.right
            if not _is_id(left, it):
                if not _is_id(right, it):
                    raise self.err(c, f"the loop condition must compare {it} itself",
                                   NotAffineError)
                op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
                left, right = right, left
            bound = self.aff(right, "loop bound")
            if bound.vars() & {it}:
                raise self.err(c, "a loop bound cannot depend on its own variable",
                               NotAffineError)
            if step > 0 and op in (">", ">=") or step < 0 and op in ("<", "<="):
                raise self.err(c, f"the loop condition {op} goes against the step of {it}",
                               UnsupportedError)
            one = AConst(1)
            if op == "<=":
                bound = AAdd(bound, one, 1)
            elif op == ">=":
                bound = AAdd(bound, one, -1)
            terms.append(bound)

        collect(st.cond)
        if len(terms) == 1:
            return terms[0]
        return AMinMax("min" if step > 0 else "max", tuple(terms))

    def if_stmt(self, st: c_ast.If, constraints) -> list:
        cond = self.condition(st.cond)
        self._check_divs(st, constraints)
        then = st.iftrue.block_items if isinstance(st.iftrue, c_ast.Compound) else [st.iftrue]
        out = self.block(then or [], constraints + (cond,))
        if st.iffalse is not None:
            other = (st.iffalse.block_items if isinstance(st.iffalse, c_ast.Compound)
                     else [st.iffalse])
            out += self.block(other or [], constraints + (f"not ({cond})",))
        return out

    def assignment(self, st, lvalue, op, rvalue, constraints) -> StmtInfo:
        target = self.store_target(lvalue)
        value = self.value(rvalue)
        aug = None
        if op != "=":
            sym = op[:-1]
            if sym not in ("+", "-", "*", "/", "%"):
                raise self.err(st, f"unsupported assignment operator {op}", UnsupportedError)
            tgt_int = self._c_type_of_target(target) in ("i32", "i64")
            if sym in ("/", "%") and tgt_int and self._c_type(value) in ("i32", "i64"):
                sym = "cdiv" if sym == "/" else "cmod"
            elif sym == "%":
                raise self.err(st, "'%' on floating-point values is not supported",
                               UnsupportedError)
            aug = sym
        reads = [e for e in value.walk() if isinstance(e, ELoad)]
        if aug is not None:
            reads.append(ELoad(target.array, target.indices))
        self._check_divs(st, constraints)
        coord = st.coord
        filename = coord.file if coord and coord.file else self.filename
        info = StmtInfo(name=f"S{len(self.statements)}", iterators=tuple(self.iters),
                        constraints=tuple(constraints), body=Assign(target, value, aug, reads),
                        filename=filename, line=coord.line if coord else 0,
                        col=coord.column if coord else 0,
                        code=(self.code_at(filename, coord.line if coord else None)
                              or _text(st)).strip(),
                        loops=tuple(self.loop_ids))
        self.statements.append(info)
        return info

    def store_target(self, node) -> ELoad:
        if isinstance(node, c_ast.ID):
            name = node.name
            if name in self.iters:
                raise self.err(node, f"cannot assign to loop variable {name!r}",
                               UnsupportedError)
            if name in self.params:
                raise self.err(node, f"cannot assign to parameter {name!r}", UnsupportedError)
            if name in self.args:
                spec = self.args[name]
                if spec.is_array:
                    raise self.err(node, f"cannot assign to array {name!r} itself",
                                   UnsupportedError)
                self.locals.setdefault(name, spec.dtype)
                return ELoad(name, ())
            if name in self.int_vars:
                self.int_vars.discard(name)
                self.locals[name] = DTYPES["i32"]
                return ELoad(name, ())
            if name not in self.locals:
                raise self.err(node, f"{name!r} is not declared in the function",
                               UnsupportedError)
            return ELoad(name, ())
        if isinstance(node, c_ast.ArrayRef):
            return self.subscript(node)
        if isinstance(node, c_ast.UnaryOp) and node.op == "*":
            raise self.err(node, "pointer dereference: polyk needs array subscripts "
                           "(A[i][j]), not pointer arithmetic", UnsupportedError)
        raise self.err(node, "the target of an assignment must be an array element or a "
                       "scalar variable", UnsupportedError)

    # ------------------------------------------------------------ affine parts
    def aff(self, node, what="subscript", params_only=False) -> Aff:
        if isinstance(node, c_ast.Constant):
            if node.type in ("int", "long", "long long", "unsigned int"):
                return AConst(_c_int(node.value))
            raise self.err(node, f"{what} must be an integer affine expression")
        if isinstance(node, c_ast.ID):
            name = node.name
            if name in self.params:
                return AVar(name, "param")
            if not params_only and name in self.iters:
                return AVar(name, "iter")
            if name in self.locals or name in self.args or name in self.int_vars:
                raise self.err(node, f"{what} uses the value of variable {name!r}, which is "
                               "data (not a loop variable or parameter): not affine")
            raise self.err(node, f"{name!r} is not a loop variable or parameter ({what})")
        if isinstance(node, c_ast.Cast):
            if isinstance(node.to_type.type, c_ast.TypeDecl) and \
                    _TYPES.get(tuple(node.to_type.type.type.names)) in ("i32", "i64"):
                return self.aff(node.expr, what, params_only)
            raise self.err(node, f"{what} casts to a non-integer type")
        if isinstance(node, c_ast.UnaryOp):
            if node.op == "-":
                return _fold(AMul(-1, self.aff(node.expr, what, params_only)))
            if node.op == "+":
                return self.aff(node.expr, what, params_only)
            if node.op in ("p++", "p--", "++", "--"):
                raise self.err(node, f"{what} modifies a variable ({node.op.strip('p')})",
                               UnsupportedError)
        if isinstance(node, c_ast.BinaryOp):
            if node.op in ("+", "-"):
                a = self.aff(node.left, what, params_only)
                b = self.aff(node.right, what, params_only)
                return _fold(AAdd(a, b, 1 if node.op == "+" else -1))
            if node.op == "*":
                a = self.aff(node.left, what, params_only)
                b = self.aff(node.right, what, params_only)
                ca, cb = a.const_value(), b.const_value()
                if ca is not None:
                    return _fold(AMul(ca, b))
                if cb is not None:
                    return _fold(AMul(cb, a))
                raise self.err(node, f"{what} is not affine: a product of two variables")
            if node.op in ("/", "%"):
                a = self.aff(node.left, what, params_only)
                d = self.aff(node.right, what, params_only).const_value()
                if d is None:
                    raise self.err(node, f"{what} is not affine: division by a variable")
                if d <= 0:
                    raise self.err(node, f"{what} divides by {d}: polyk needs a positive "
                                   "constant divisor")
                if a.const_value() is None:
                    self._pending_divs.append((node, aff_to_isl(a)))
                return _fold(AFloorDiv(a, d) if node.op == "/" else AMod(a, d))
        if isinstance(node, c_ast.TernaryOp):
            raise self.err(node, f"{what} uses ?: : write min/max bounds with && in the "
                           "loop condition, or an if")
        if isinstance(node, c_ast.ArrayRef):
            raise self.err(node, f"{what} depends on array data (an indirect access): not "
                           "affine")
        if isinstance(node, c_ast.FuncCall):
            raise self.err(node, f"{what} calls a function: not affine")
        raise self.err(node, f"{what} must be an integer affine expression of loop variables "
                       "and parameters")

    def _check_divs(self, node, constraints):
        """Record that each C division met since the last call has a non-negative numerator
        where it is evaluated."""
        for div_node, expr in self._pending_divs:
            coord = div_node.coord
            filename = coord.file if coord and coord.file else self.filename
            self.checks.append(NonNegative(tuple(self.iters), tuple(constraints), expr,
                                           filename, coord.line if coord else 0,
                                           coord.column if coord else 0,
                                           self.code_at(filename, coord.line if coord else None)
                                           or _text(div_node)))
        self._pending_divs = []

    def condition(self, node) -> str:
        if isinstance(node, c_ast.BinaryOp) and node.op in ("&&", "||"):
            op = " and " if node.op == "&&" else " or "
            return f"({self.condition(node.left)}{op}{self.condition(node.right)})"
        if isinstance(node, c_ast.UnaryOp) and node.op == "!":
            return f"not ({self.condition(node.expr)})"
        if isinstance(node, c_ast.BinaryOp) and node.op in _CMP:
            a = self.aff(node.left, "condition")
            b = self.aff(node.right, "condition")
            sym = {"==": "="}.get(node.op, node.op)
            return f"({aff_to_isl(a)} {sym} {aff_to_isl(b)})"
        raise self.err(node, "an if condition must compare affine expressions of loop "
                       "variables and parameters (data-dependent conditions belong in a "
                       "value: c ? x : y)")

    # ------------------------------------------------------------ values
    def subscript(self, node: c_ast.ArrayRef) -> ELoad:
        idx = []
        base = node
        while isinstance(base, c_ast.ArrayRef):
            idx.insert(0, base.subscript)
            base = base.name
        if not isinstance(base, c_ast.ID):
            raise self.err(node, "only named arrays can be indexed (no pointer arithmetic)",
                           UnsupportedError)
        spec = self.args.get(base.name)
        if spec is None or not spec.is_array:
            raise self.err(node, f"{base.name!r} is not an array parameter of the function",
                           UnsupportedError)
        shape = spec.shape
        if len(idx) != len(shape):
            if len(idx) == 1 and len(shape) > 1:
                raise self.err(node, f"array {base.name} has {len(shape)} dimensions but "
                               "one subscript: flattened indexing is not supported",
                               UnsupportedError)
            raise self.err(node, f"array {base.name!r} has {len(shape)} dimension(s) but "
                           f"is indexed with {len(idx)}", UnsupportedError)
        return ELoad(base.name, tuple(self.aff(i, "subscript") for i in idx))

    def value(self, node):
        if isinstance(node, c_ast.Constant):
            return _c_constant(node, self)
        if isinstance(node, c_ast.ID):
            name = node.name
            if name in self.iters:
                return EIndex(AVar(name, "iter"), fixed=DTYPES["i32"])
            if name in self.params:
                return EIndex(AVar(name, "param"), fixed=DTYPES["i32"])
            if name in self.args:
                spec = self.args[name]
                if spec.is_array:
                    raise self.err(node, f"array {name!r} used without a subscript",
                                   UnsupportedError)
                return ELoad(name, ())
            if name in self.locals:
                return ELoad(name, ())
            if name in self.int_vars:
                raise self.err(node, f"integer variable {name!r} is read but never assigned "
                               "in the scop", UnsupportedError)
            raise self.err(node, f"{name!r} is not declared in the function", UnsupportedError)
        if isinstance(node, c_ast.ArrayRef):
            return self.subscript(node)
        if isinstance(node, c_ast.BinaryOp):
            if node.op in ("&&", "||"):
                return EBool("and" if node.op == "&&" else "or",
                             (self.value(node.left), self.value(node.right)))
            if node.op in _CMP:
                return ECmp(_CMP[node.op], self.value(node.left), self.value(node.right))
            if node.op in ("+", "-", "*", "/", "%"):
                a, b = self.value(node.left), self.value(node.right)
                op = node.op
                ints = self._c_type(a) in ("i32", "i64") and self._c_type(b) in ("i32", "i64")
                if op == "/" and ints:
                    op = "cdiv"
                elif op == "%":
                    if not ints:
                        raise self.err(node, "'%' on floating-point values is not supported",
                                       UnsupportedError)
                    op = "cmod"
                return EBin(op, a, b)
            raise self.err(node, f"unsupported operator {node.op}", UnsupportedError)
        if isinstance(node, c_ast.UnaryOp):
            if node.op == "-":
                a = self.value(node.expr)
                if isinstance(a, ENum):
                    return ENum(-a.value, fixed=a.fixed)
                return EUnary("-", a)
            if node.op == "+":
                return self.value(node.expr)
            if node.op == "!":
                return EBool("not", (self.value(node.expr),))
            if node.op in ("p++", "p--", "++", "--"):
                raise self.err(node, "increments inside expressions are not supported",
                               UnsupportedError)
            if node.op in ("*", "&"):
                raise self.err(node, "pointers are not supported: use array subscripts",
                               UnsupportedError)
            if node.op == "sizeof":
                raise self.err(node, "sizeof is not supported in a scop", UnsupportedError)
            raise self.err(node, f"unsupported operator {node.op}", UnsupportedError)
        if isinstance(node, c_ast.TernaryOp):
            return ESelect(self.value(node.cond), self.value(node.iftrue),
                           self.value(node.iffalse))
        if isinstance(node, c_ast.Cast):
            to = node.to_type.type
            if not isinstance(to, c_ast.TypeDecl):
                raise self.err(node, "casts to pointer types are not supported",
                               UnsupportedError)
            return ECast(self._dtype(to.type, node), self.value(node.expr))
        if isinstance(node, c_ast.FuncCall):
            name = _text(node.name)
            if name not in _C_MATH and name != "abs":
                raise self.err(node, f"call to {name}(): polyk knows the math.h functions "
                               f"{', '.join(sorted(_C_MATH))} and abs", UnsupportedError)
            args = [self.value(a) for a in (node.args.exprs if node.args else [])]
            if name == "abs":
                if len(args) != 1:
                    raise self.err(node, "abs() takes one argument", UnsupportedError)
                return ECall("abs", (ECast(DTYPES["i32"], args[0]),))
            fn, ty = _C_MATH[name]
            want = 2 if fn == "pow" else 1
            if len(args) != want:
                raise self.err(node, f"{name}() takes {want} argument(s)", UnsupportedError)
            return ECall(fn, tuple(ECast(DTYPES[ty], a) for a in args))
        if isinstance(node, c_ast.Assignment):
            raise self.err(node, "assignments inside expressions are not supported",
                           UnsupportedError)
        raise self.err(node, f"unsupported expression ({type(node).__name__})",
                       UnsupportedError)

    # ------------------------------------------------------------ C types at parse time
    def _c_type_of_target(self, target: ELoad) -> str:
        if target.indices:
            return self.args[target.array].dtype.name
        if target.array in self.locals:
            return self.locals[target.array].name
        return self.args[target.array].dtype.name

    def _c_type(self, e) -> str:
        """C's type of an expression (usual arithmetic conversions), enough to tell
        integer from floating-point division."""
        if isinstance(e, ENum):
            return e.fixed.name if e.fixed is not None else (
                "i32" if isinstance(e.value, int) else "f64")
        if isinstance(e, EIndex):
            return "i32"
        if isinstance(e, ELoad):
            return self._c_type_of_target(e)
        if isinstance(e, ECast):
            return e.to.name
        if isinstance(e, (ECmp, EBool)):
            return "i32"
        if isinstance(e, EUnary):
            return self._c_type(e.a)
        if isinstance(e, ECall):
            if e.fn == "abs":
                return "i32"
            return e.args[0].to.name
        if isinstance(e, (EBin, ESelect)):
            a, b = (e.a, e.b)
            ta, tb = self._c_type(a), self._c_type(b)
            order = ["i32", "i64", "f32", "f64"]
            return max(ta, tb, key=order.index)
        return "f64"


def _is_id(node, name) -> bool:
    return isinstance(node, c_ast.ID) and node.name == name


def _text(node) -> str:
    from pycparser import c_generator
    try:
        return c_generator.CGenerator().visit(node)
    except Exception:
        return type(node).__name__


def _c_int(text: str) -> int:
    t = text.rstrip("uUlL")
    if t.lower().startswith("0x"):
        return int(t, 16)
    if t.startswith("0") and len(t) > 1:
        return int(t, 8)
    return int(t)


def _c_constant(node: c_ast.Constant, parser):
    t = node.type
    if t in ("int", "long", "long long", "unsigned int", "unsigned long"):
        v = _c_int(node.value)
        return ENum(v, fixed=DTYPES["i64" if "long" in t or abs(v) >= 2**31 else "i32"])
    if t in ("double", "float", "long double"):
        text = node.value
        is_f32 = text[-1] in "fF"
        v = float(text.rstrip("fFlL"))
        if is_f32:   # the literal's value is the float nearest to the text
            import numpy as np
            v = float(np.float32(v))
        return ENum(v, fixed=DTYPES["f32" if is_f32 else "f64"])
    if t == "char":
        raise parser.err(node, "character constants are not supported", UnsupportedError)
    raise parser.err(node, f"unsupported constant {node.value}", UnsupportedError)


def _aff_to_lin(a: Aff) -> Lin | None:
    if isinstance(a, AConst):
        return Lin({}, a.value)
    if isinstance(a, AVar):
        return Lin({a.name: 1}, 0)
    if isinstance(a, AAdd):
        x, y = _aff_to_lin(a.a), _aff_to_lin(a.b)
        return None if x is None or y is None else (x + y if a.sign > 0 else x - y)
    if isinstance(a, AMul):
        x = _aff_to_lin(a.e)
        return None if x is None else x * a.coef
    return None


def _fold(e: Aff) -> Aff:
    v = e.const_value()
    return AConst(v) if v is not None else e
