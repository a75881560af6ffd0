"""Front ends and the SCoP model: Python loop nests (and C #pragma scop regions) to isl."""

from .dependences import Dependences, compute_dependences
from .model import Access, Array, Scop, Statement, build_scop
from .program import ArgSpec, Program

__all__ = ["Access", "ArgSpec", "Array", "Dependences", "Program", "Scop", "Statement",
           "build_scop", "compute_dependences"]
