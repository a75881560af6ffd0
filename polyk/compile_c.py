"""``polyk compile``: a C file in, the same C file out with its scop region transformed
(like Pluto's polycc). Everything outside the region is left as it was."""

from __future__ import annotations

import re

from .codegen.c_printer import print_region
from .op import from_c
from .pipeline import generate

_PRAGMA = re.compile(r"^\s*#\s*pragma\s+(scop|endscop)\s*$")


def transform_c(text: str, filename: str = "<string>", *, function=None, defines=None,
                include_dirs=None, shapes=None, **options) -> str:
    """The C text with its ``#pragma scop`` region replaced by polyk's schedule of it."""
    from .scop.c_frontend import parse_c
    _, fname = parse_c(text, filename, function=function, defines=defines,
                       include_dirs=include_dirs, shapes=shapes,
                       assume=options.get("assume"))
    op = from_c(text=text, function=fname, defines=defines, include_dirs=include_dirs,
                shapes=shapes, assume=options.pop("assume", None))
    op.program.filename = filename
    options["compile"] = False
    target = options.pop("target", "c")
    k = generate(op, target, **options)
    region, helpers = print_region(k.scop, k.schedule, omp_schedule=k.options.omp_schedule,
                                   simd=k.options.simd)
    lines = text.splitlines(keepends=True)
    start, end, fline = _region_lines(lines, fname)
    indent = re.match(r"\s*", lines[start]).group(0)
    new_region = "".join(indent + ln + "\n" if ln.strip() else "\n"
                         for ln in region.splitlines())
    out = lines[:fline] + [helpers] + lines[fline:start] + [new_region] + lines[end + 1:]
    return "".join(out)


def _region_lines(lines, fname):
    """Line indices of the scop pragmas and of the start of the function holding them."""
    start = end = None
    for k, ln in enumerate(lines):
        m = _PRAGMA.match(ln)
        if m and m.group(1) == "scop" and start is None:
            start = k
        elif m and m.group(1) == "endscop" and start is not None:
            end = k
            break
    if start is None or end is None:
        raise ValueError("no #pragma scop ... #pragma endscop region found")
    fline = 0
    pat = re.compile(rf"\b{re.escape(fname)}\s*\(")
    for k in range(start, -1, -1):
        if pat.search(lines[k]):
            fline = k
            # include a return type written on the line before
            if k > 0 and lines[k - 1].strip() and not lines[k - 1].rstrip().endswith((";", "}")) \
                    and not lines[k - 1].lstrip().startswith("#"):
                fline = k - 1
            break
    return start, end, fline
