"""The ``polyk`` command: ``polyk demo``, ``polyk kernels``, ``polyk source NAME``,
``polyk compile FILE.c``, ``polyk fuzz --seconds N``."""

from __future__ import annotations

import argparse
import sys


def _shape_free_params(op) -> list[str]:
    named = {p for a in op.args if a.is_array for d in a.shape for p in d.coeffs}
    return [p for p in op.params if p not in named]


DEMO_KERNELS = ["gemm", "2mm", "atax", "cholesky", "jacobi-2d", "conv2d"]


def demo(names: list[str] | None, repeat: int) -> int:
    """Generate, compile, check and time library kernels; print a table."""
    import polyk
    from polyk.check import _call_reference
    from polyk.kernels import LIBRARY
    from polyk.timing import fresh, time_call

    names = names or DEMO_KERNELS
    print(f"{'kernel':<11} {'check (test sizes)':<22} {'size':<34} {'as written':>10} "
          f"{'polyk':>9} {'speedup':>8} {'NumPy':>9}")
    failures = 0
    for name in names:
        spec = LIBRARY[name]
        base = polyk.generate(spec.op, scheduler="identity")
        k = polyk.generate(spec.op, target="openmp")
        try:
            errs = [polyk.check(k, spec.reference, sz, seed=i, rtol=spec.rtol)
                    for i, sz in enumerate(spec.test_sizes())]
            status = f"ok (max err {max(errs):.1e})"
        except polyk.MismatchError as e:
            status = "MISMATCH"
            failures += 1
            print(e, file=sys.stderr)
        which = "medium" if "medium" in spec.sizes else "bench"
        sz = spec.sizes[which]
        inputs = spec.op.make_inputs(sz, seed=0)
        extra = {p: sz[p] for p in _shape_free_params(spec.op)}
        t_b = time_call(lambda **a: base(**a, **extra), fresh(inputs), repeat=repeat)
        t_k = time_call(lambda **a: k(**a, **extra), fresh(inputs), repeat=repeat)
        t_r = time_call(lambda **a: _call_reference(spec.reference, a, sz), fresh(inputs),
                        repeat=repeat)
        size_text = " ".join(f"{p}={v}" for p, v in sz.items())
        print(f"{name:<11} {status:<22} {size_text:<34} {t_b * 1e3:>8.1f}ms "
              f"{t_k * 1e3:>7.1f}ms {t_b / t_k:>7.2f}x {t_r * 1e3:>7.1f}ms", flush=True)
    print("\nas written: the loop nest untransformed (gcc -O3 -march=native, 1 thread).\n"
          "polyk: Pluto schedule, OpenMP (threads: OMP_NUM_THREADS). NumPy: the kernel's "
          "vectorised reference.\nFull tables: python3 bench/run.py, docs/performance.md.")
    return 1 if failures else 0


# Options that concern compiling the generated C, not what is printed.
_NOT_FOR_PRINTING = {"compile", "cc", "cflags", "fp_contract"}


def _option_help() -> dict:
    """Each option's line in polyk.Options' docstring."""
    import re

    from polyk.options import Options
    out, current = {}, None
    for line in (Options.__doc__ or "").splitlines():
        m = re.match(r"\s{4}(\w+)\s+(.*)", line)
        if m and m.group(1) in Options.__dataclass_fields__:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
        else:
            current = None
    return out


def _add_compile_parser(sub):
    """``polyk compile``: one flag per field of polyk.Options (the Python keywords)."""
    import dataclasses

    from polyk.options import Options
    p = sub.add_parser("compile", help="transform the #pragma scop region of a C file "
                       "(like polycc)", description="Write the C file back with its "
                       "#pragma scop region replaced by polyk's transformed code; everything "
                       "outside the region is untouched. Options are those of "
                       "polyk.generate, one to one.")
    p.add_argument("input", help="C file with a #pragma scop ... #pragma endscop region")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.add_argument("--function", help="function holding the region (if several have one)")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="preprocessor definition")
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="preprocessor include directory")
    p.add_argument("--shape", action="append", default=[], metavar="ARRAY=N,M",
                   help="extents of an array passed as a plain pointer")
    helps = _option_help()
    for f in dataclasses.fields(Options):
        if f.name in _NOT_FOR_PRINTING:
            continue
        flag = "--" + f.name.replace("_", "-")
        h = helps.get(f.name, "")
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, bool) or f.type == "bool | None":
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                           default=None, help=f"{h} (default {default})")
        elif f.name == "sizes":
            p.add_argument(flag, dest=f.name, action="append", metavar="NAME=VALUE",
                           help=h)
        elif isinstance(default, int):
            p.add_argument(flag, dest=f.name, type=int, default=None, help=f"{h} "
                           f"(default {default})")
        elif isinstance(default, float):
            p.add_argument(flag, dest=f.name, type=float, default=None, help=f"{h} "
                           f"(default {default})")
        else:
            p.add_argument(flag, dest=f.name, default=None,
                           help=f"{h}" + (f" (default {default})" if default else ""))
    return p


def compile_command(args) -> int:
    import dataclasses

    import polyk
    from polyk.compile_c import transform_c
    from polyk.options import Options
    opts = {}
    for f in dataclasses.fields(Options):
        v = getattr(args, f.name, None)
        if v is None:
            continue
        if f.name == "sizes":
            v = {k: int(x) for k, x in (item.split("=", 1) for item in v)}
        opts[f.name] = v
    shapes = {}
    for item in args.shape:
        name, _, dims = item.partition("=")
        shapes[name] = tuple(d.strip() for d in dims.split(","))
    try:
        with open(args.input) as fh:
            text = fh.read()
        out = transform_c(text, args.input, function=args.function, defines=args.defines,
                          include_dirs=args.include_dirs, shapes=shapes or None, **opts)
    except (polyk.PolykError, OSError, ValueError) as e:
        print(f"polyk compile: {e}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(out)
    else:
        sys.stdout.write(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyk", description="polyhedral kernel generator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_demo = sub.add_parser("demo", help="generate, compile, check and time library kernels")
    p_demo.add_argument("kernels", nargs="*", help="kernel names (default: a few)")
    p_demo.add_argument("--repeat", type=int, default=3, help="timed runs per kernel")
    sub.add_parser("kernels", help="list the library's kernels")
    p_src = sub.add_parser("source", help="print the generated C of a library kernel")
    p_src.add_argument("name")
    _add_compile_parser(sub)
    p_fuzz = sub.add_parser("fuzz", help="check random affine programs under random options "
                            "against the op run as Python", description="Random programs "
                            "(polyk.fuzz) under random option sets: each result must equal "
                            "the op run as plain Python, and with fp_contract=False be "
                            "bitwise the untransformed code's. Prints the counts and a "
                            "reproducer for each failure; exit 1 if any.")
    p_fuzz.add_argument("--seconds", type=float, default=60, help="how long to run")
    p_fuzz.add_argument("--seed", type=int, help="first program seed (default: random)")
    p_fuzz.add_argument("--options", type=int, default=4, help="option sets per program")
    p_fuzz.add_argument("--timeout", type=float, default=120,
                        help="seconds one program may take before it counts as a hang")
    p_fuzz.add_argument("--repro", type=int, metavar="SEED",
                        help="print program SEED and check it again")
    args = parser.parse_args(argv)
    if args.cmd == "compile":
        return compile_command(args)
    if args.cmd == "fuzz":
        from polyk import fuzz
        argv2 = ["--seconds", str(args.seconds), "--options", str(args.options),
                 "--timeout", str(args.timeout)]
        for flag in ("seed", "repro"):
            if getattr(args, flag) is not None:
                argv2 += [f"--{flag}", str(getattr(args, flag))]
        return fuzz.main(argv2)

    from polyk.kernels import LIBRARY
    if args.cmd == "demo":
        unknown = [n for n in args.kernels if n not in LIBRARY]
        if unknown:
            parser.error(f"unknown kernel(s) {unknown}; see 'polyk kernels'")
        return demo(args.kernels, args.repeat)
    if args.cmd == "kernels":
        for name, spec in LIBRARY.items():
            print(f"{name:<11} {spec.description}")
        return 0
    if args.cmd == "source":
        import polyk
        if args.name not in LIBRARY:
            parser.error(f"unknown kernel {args.name!r}; see 'polyk kernels'")
        print(polyk.generate(LIBRARY[args.name].op, compile=False).source)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
