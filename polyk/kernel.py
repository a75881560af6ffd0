"""The Kernel: generated source, the stages it came from, and a checked call."""

from __future__ import annotations

import ctypes


from .binding import bind_arguments

_CTYPES = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
           "i32": ctypes.c_int32}


class Kernel:
    """A generated kernel. Every stage can be looked at:

    ``k.scop`` (domains, accesses, original schedule), ``k.dependences``, ``k.schedule``,
    ``k.source``, ``k.options``. Calling it updates its array arguments in place and
    returns None, like the loop nest; parameters are taken from array shapes or passed by
    keyword, and checked against the op's context.
    """

    def __init__(self, op, scop, dependences, schedule, cfunc, options, so_path=None):
        self.op = op
        self.scop = scop
        self.dependences = dependences
        self.schedule = schedule
        self.cfunction = cfunc
        self.options = options
        self.so_path = so_path
        self._fn = None
        if so_path is not None:
            from .codegen.jit import load
            argtypes = [ctypes.c_int64 for _ in cfunc.params]
            for a in cfunc.args:
                argtypes.append(ctypes.c_void_p if a.is_array else _CTYPES[a.dtype.name])
            self._fn = load(so_path, cfunc.name, argtypes)

    @property
    def name(self) -> str:
        return self.scop.name

    @property
    def source(self) -> str:
        return self.cfunction.text

    @property
    def ast(self):
        """isl's AST of the schedule (before printing)."""
        return self.cfunction.ast

    @property
    def compiled(self) -> bool:
        return self._fn is not None

    def __repr__(self) -> str:
        state = "compiled" if self.compiled else "source only"
        return (f"<polyk.Kernel {self.name} target={self.options.target} "
                f"scheduler={self.options.scheduler} ({state})>")

    def bind(self, args, kwargs):
        return bind_arguments(self.scop.program, args, kwargs, context=self.scop.context,
                              fixed=self.scop.fixed, written=self.scop.written_arrays)

    def __call__(self, *args, **kwargs) -> None:
        if self._fn is None:
            raise RuntimeError(f"kernel {self.name} was generated with compile=False; "
                               "generate it again with compile=True to run it")
        b = self.bind(args, kwargs)
        cargs = [int(b.params[p]) for p in self.cfunction.params]
        for a in self.cfunction.args:
            v = b.values[a.name]
            cargs.append(v.ctypes.data if a.is_array else v)
        self._fn(*cargs)


