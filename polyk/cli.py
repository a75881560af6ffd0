"""The ``polyk`` command: ``polyk demo``, ``polyk kernels``, ``polyk source NAME``."""

from __future__ import annotations

import argparse
import sys


def _shape_free_params(op) -> list[str]:
    named = {p for a in op.args if a.is_array for d in a.shape for p in d.coeffs}
    return [p for p in op.params if p not in named]


def demo(names: list[str] | None, repeat: int) -> int:
    """Generate, compile, check and time library kernels; print a table."""
    import polyk
    from polyk.check import _call_reference
    from polyk.kernels import LIBRARY
    from polyk.timing import fresh, time_call

    names = names or list(LIBRARY)
    rows = []
    print(f"{'kernel':<11} {'check (test sizes)':<22} {'bench sizes':<44} "
          f"{'polyk C':>9} {'NumPy':>9} {'NumPy/polyk':>11}")
    failures = 0
    for name in names:
        spec = LIBRARY[name]
        k = polyk.generate(spec.op, target="c")
        try:
            errs = [polyk.check(k, spec.reference, sz, seed=i)
                    for i, sz in enumerate(spec.test_sizes())]
            status = f"ok (max err {max(errs):.1e})"
        except polyk.MismatchError as e:
            status = "MISMATCH"
            failures += 1
            print(e, file=sys.stderr)
        sz = spec.sizes["bench"]
        inputs = spec.op.make_inputs(sz, seed=0)
        extra = {p: sz[p] for p in _shape_free_params(spec.op)}
        t_k = time_call(lambda **a: k(**a, **extra), fresh(inputs), repeat=repeat)
        t_r = time_call(lambda **a: _call_reference(spec.reference, a, sz), fresh(inputs),
                        repeat=repeat)
        size_text = " ".join(f"{p}={v}" for p, v in sz.items())
        print(f"{name:<11} {status:<22} {size_text:<44} {t_k * 1e3:>7.1f}ms "
              f"{t_r * 1e3:>7.1f}ms {t_r / t_k:>10.2f}x", flush=True)
        rows.append((name, status, t_k, t_r))
    print("\npolyk C: the loop nest as written (identity schedule), gcc -O3 -march=native, "
          "1 thread.\nNumPy: the kernel's vectorised reference (OpenBLAS for matrix "
          "products).")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyk", description="polyhedral kernel generator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_demo = sub.add_parser("demo", help="generate, compile, check and time library kernels")
    p_demo.add_argument("kernels", nargs="*", help="kernel names (default: all)")
    p_demo.add_argument("--repeat", type=int, default=3, help="timed runs per kernel")
    sub.add_parser("kernels", help="list the library's kernels")
    p_src = sub.add_parser("source", help="print the generated C of a library kernel")
    p_src.add_argument("name")
    args = parser.parse_args(argv)

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
