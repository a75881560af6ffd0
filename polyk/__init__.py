"""polyk: a polyhedral kernel generator.

    import polyk
    from polyk import f64
    N = polyk.params("N")

    @polyk.op
    def scale(a: f64, x: f64[N]):
        for i in range(N):
            x[i] *= a

    k = polyk.generate(scale, target="c")
    k(a=2.0, x=x)
"""

from .errors import (CompileError, MismatchError, NotAffineError, OptionsError, OutOfBoundsError,
                     PolykError, PolykWarning, ScheduleError, SourceError, UnsupportedError)
from .op import Op, from_c, op
from .types import f32, f64, i32, i64, params

__all__ = ["from_c", "CompileError", "MismatchError", "NotAffineError", "Op", "OptionsError",
           "OutOfBoundsError", "PolykError", "PolykWarning", "ScheduleError", "SourceError", "UnsupportedError",
           "f32", "f64", "i32", "i64", "op", "params"]
from .options import Options  # noqa: E402
from .pipeline import generate  # noqa: E402
from .kernel import Kernel  # noqa: E402

__all__ += ["Kernel", "Options", "generate"]
from .check import check  # noqa: E402

__all__ += ["check"]
from .codegen.openmp import threads as openmp_threads  # noqa: E402

__all__ += ["openmp_threads"]
from .schedule.explain import explain  # noqa: E402

__all__ += ["explain"]
from .codegen.cuda_runtime import CudaError  # noqa: E402

__all__ += ["CudaError"]
