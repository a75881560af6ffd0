"""The exceptions polyk raises. Every message says what to change, and where."""

from __future__ import annotations


class PolykError(Exception):
    """Base class of every error polyk raises on purpose."""


class SourceError(PolykError):
    """An error located in the user's program: carries file, line, column and the code."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None,
                 col: int | None = None, code: str | None = None):
        self.reason = message
        self.filename = filename
        self.line = line
        self.col = col
        self.code = code
        where = []
        if filename is not None:
            where.append(str(filename))
        if line is not None:
            where.append(f"line {line}")
        if col is not None:
            where.append(f"column {col}")
        text = ", ".join(where)
        if text:
            text += ": "
        text += message
        if code:
            text += f"\n    {code.strip()}"
        super().__init__(text)


class NotAffineError(SourceError):
    """Non-affine subscripts or bounds, data-dependent control flow, unsupported syntax."""


class UnsupportedError(NotAffineError):
    """Syntax polyk does not model (while, break, calls to unknown functions, ...)."""


class OutOfBoundsError(SourceError):
    """An access can fall outside its array's declared extent for some allowed parameters."""


class OptionsError(PolykError, ValueError):
    """An unknown, malformed or inconsistent option."""


class ScheduleError(PolykError):
    """A schedule that violates a dependence or marks a loop parallel that is not."""


class CompileError(PolykError):
    """The C or CUDA compiler refused the generated source; the source is kept."""

    def __init__(self, message: str, *, source_path: str | None = None, stderr: str = ""):
        self.source_path = source_path
        self.stderr = stderr
        text = message
        if source_path:
            text += f"\n  generated source kept at: {source_path}"
        if stderr:
            text += "\n  compiler said:\n" + "\n".join("    " + ln for ln in stderr.splitlines()[:60])
        super().__init__(text)


class MismatchError(PolykError, AssertionError):
    """A kernel's results differ from the reference beyond the tolerance."""


class PolykWarning(UserWarning):
    """Something the user should know that does not stop generation (a fallback taken)."""
