"""The polyk operator library: each kernel is an op, a NumPy reference and its sizes.

    from polyk.kernels import LIBRARY
    spec = LIBRARY["gemm"]
"""

from ._spec import LIBRARY, KernelSpec, register
from . import conv  # noqa: F401  (registers the kernels)
from . import polybench  # noqa: F401,E402

__all__ = ["LIBRARY", "KernelSpec", "register"]
