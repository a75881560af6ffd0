"""The 30 PolyBench/C 4.2 kernels, written for polyk from their mathematical definitions.

Each module defines one kernel: a Python op registered in ``polyk.kernels.LIBRARY`` (with a
NumPy reference, an input generator and the MINI/SMALL/MEDIUM/LARGE sizes) and, beside it,
a C file of the same name with the same loop nest in a ``#pragma scop`` region.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

HERE = os.path.dirname(__file__)
NAMES: list[str] = []     # registered names, in module order

for _info in sorted(pkgutil.iter_modules([HERE]), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        _mod = importlib.import_module(f"{__name__}.{_info.name}")
        NAMES.append(_mod.SPEC.name)


def c_file(name: str) -> str:
    """Path of the C version of a PolyBench kernel (by registered name)."""
    from .._spec import LIBRARY
    module = LIBRARY[name].op.fn.__module__.rsplit(".", 1)[-1]
    return os.path.join(HERE, f"{module}.c")
