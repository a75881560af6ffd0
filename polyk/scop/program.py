"""The front ends' common output: a parsed loop-nest program, before any isl object exists.

Both the Python front end and the C front end produce a ``Program``; ``build_scop`` turns it
into a ``Scop`` (isl sets and maps) for given sizes and assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import DType, Lin
from .expr import Aff, Assign, aff_to_isl


@dataclass(frozen=True)
class ArgSpec:
    """One argument of the op: an array (``shape`` given) or a scalar (``shape is None``)."""

    name: str
    dtype: DType
    shape: tuple[Lin, ...] | None

    @property
    def is_array(self) -> bool:
        return self.shape is not None

    def __repr__(self) -> str:
        if self.shape is None:
            return f"{self.name}: {self.dtype.name}"
        return f"{self.name}: {self.dtype.name}[{', '.join(map(repr, self.shape))}]"


@dataclass
class StmtInfo:
    """One assignment with everything the front end knows about it."""

    name: str                      # S0, S1, ... in textual order
    iterators: tuple[str, ...]     # enclosing loop iterators, outermost first
    constraints: tuple[str, ...]   # isl constraints of its domain (loop bounds, conditions)
    body: Assign
    filename: str
    line: int
    col: int
    code: str                      # the statement's source text
    loops: tuple[int, ...] = ()    # identities of the enclosing loops (sibling loops differ)


@dataclass
class LoopNode:
    """A loop of the original program: its statements run in ``sign * iterator`` order."""

    iterator: str
    sign: int
    children: list = field(default_factory=list)  # LoopNode | StmtInfo


@dataclass
class Program:
    name: str
    filename: str
    line: int
    args: tuple[ArgSpec, ...]
    params: tuple[str, ...]
    locals: dict[str, DType]              # scalar temporaries (and scalar arguments written)
    statements: list[StmtInfo]
    tree: list                            # LoopNode | StmtInfo, the original nesting
    assume: str | None = None             # extra constraints on parameters (isl syntax)
    language: str = "python"              # "python" (NumPy typing) or "c" (C's typing)
    checks: list = field(default_factory=list)   # NonNegative: C '/' and '%' operands
    region_locals: tuple = ()             # C: temporaries declared inside the scop region

    def arg(self, name: str) -> ArgSpec | None:
        for a in self.args:
            if a.name == name:
                return a
        return None

    @property
    def written(self) -> set[str]:
        return {s.body.target.array for s in self.statements}


def range_constraints(it: str, lo: Aff, hi: Aff, step: int, fresh: str) -> tuple[str, ...]:
    """isl constraints of ``it`` running over Python's ``range(lo, hi, step)`` (C loops are
    brought to this form); ``fresh`` names the existential variable of a stride."""
    bound = [f"{it} {'<' if step > 0 else '>'} {aff_to_isl(hi)}"]
    if abs(step) == 1:
        bound.append(f"{it} {'>=' if step > 0 else '<='} {aff_to_isl(lo)}")
    else:
        bound.append(f"exists ({fresh} : {it} = {aff_to_isl(lo)} + {step}*{fresh} and "
                     f"{fresh} >= 0)")
    return tuple(bound)


@dataclass(frozen=True)
class NonNegative:
    """C's ``/`` and ``%`` truncate toward zero; isl's floor agrees where the numerator is
    non-negative, which ``build_scop`` verifies over these constraints."""

    iterators: tuple[str, ...]
    constraints: tuple[str, ...]
    expr: str                   # isl text of the numerator
    filename: str
    line: int
    col: int
    code: str
