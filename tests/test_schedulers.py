"""Every library kernel under every scheduler (Pluto and isl with each fusion policy, and the
identity): the legality checker passes, results equal the NumPy reference serially, with 2
OpenMP threads and with 8 threads under OMP_SCHEDULE=static,1 (to expose races), and,
compiled without multiply-add contraction, the transformed kernel's outputs are bitwise
those of the untransformed one (DESIGN.md, "Numbers"). Also: option validation.

CI time. Every case generates two kernels (serial C; OpenMP without contraction), each
scheduled afresh; the full product takes several minutes on two cores. CI runs a
deterministic subset (``ci_configs``): with the kernels in name order, kernel n runs
configurations n mod 7 and (n + 3) mod 7, so every kernel runs in CI under two schedulers
and every thread setting, and every configuration with about 2/7 of the kernels. The rest
of the product is marked ``slow``: ``pytest -m slow`` runs just the rest, ``POLYK_SLOW=1
pytest`` everything.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import polyk
from polyk.kernels import LIBRARY
from polyk.schedule import check_schedule

from conftest import copy_args, free_params

CONFIGS = [("pluto", "smart"), ("pluto", "max"), ("pluto", "none"),
           ("isl", "smart"), ("isl", "max"), ("isl", "none"),
           ("identity", None)]
NAMES = sorted(LIBRARY)
THREADS = [(2, "static"), (8, "static,1")]


def config_id(cfg) -> str:
    sched, fuse = cfg
    return sched if fuse is None else f"{sched}-{fuse}"


def ci_configs(name: str) -> set[int]:
    """The configurations CI runs for ``name``: with the kernels in name order, kernel n
    runs configurations n mod 7 and (n + 3) mod 7."""
    n = NAMES.index(name)
    return {n % len(CONFIGS), (n + 3) % len(CONFIGS)}


def _cases():
    out = []
    for name in NAMES:
        for c, cfg in enumerate(CONFIGS):
            marks = () if c in ci_configs(name) else (pytest.mark.slow,)
            out.append(pytest.param(name, cfg, marks=marks,
                                    id=f"{name}-{config_id(cfg)}"))
    return out


CASES = _cases()


# ---------------------------------------------------------------- kernels, built once

@pytest.fixture(scope="module")
def built():
    return {}


def kernel(cache, name, cfg, **options):
    sched, fuse = cfg
    kw = {"scheduler": sched, **({"fuse": fuse} if fuse else {}), **options}
    key = (name, tuple(sorted(kw.items())))
    if key not in cache:
        cache[key] = polyk.generate(LIBRARY[name].op, **kw)
    return cache[key]


def serial(cache, name, cfg):
    return kernel(cache, name, cfg, target="c")


def parallel(cache, name, cfg):
    """OpenMP, schedule chosen at run time, no contraction (so also bitwise-comparable)."""
    return kernel(cache, name, cfg, target="openmp", omp_schedule="runtime",
                  fp_contract=False)


def untransformed(cache, name):
    return kernel(cache, name, ("identity", None), target="c", fp_contract=False)


def test_ci_subset_covers_every_kernel_and_configuration():
    per_config = {config_id(cfg): [n for n in NAMES if c in ci_configs(n)]
                  for c, cfg in enumerate(CONFIGS)}
    assert all(len(ci_configs(n)) == 2 for n in NAMES)
    several = min(3, 2 * len(NAMES) // len(CONFIGS))
    assert all(len(v) >= several for v in per_config.values()), per_config


# ---------------------------------------------------------------- legality and results

@pytest.mark.parametrize("name,cfg", CASES)
def test_serial_matches_reference(built, name, cfg):
    spec = LIBRARY[name]
    k = serial(built, name, cfg)
    assert k.schedule.scheduler == cfg[0]
    check_schedule(k.scop, k.schedule)
    for seed, sizes in enumerate(spec.test_sizes()):
        polyk.check(k, spec.reference, sizes, seed=seed, rtol=spec.rtol)


@pytest.mark.parametrize("threads,schedule", THREADS, ids=["2", "8-static1"])
@pytest.mark.parametrize("name,cfg", CASES)
def test_openmp_matches_reference(built, name, cfg, threads, schedule):
    spec = LIBRARY[name]
    k = parallel(built, name, cfg)
    check_schedule(k.scop, k.schedule)          # the parallel marks included
    with polyk.openmp_threads(threads, schedule=schedule):
        for seed, sizes in enumerate(spec.test_sizes()):
            polyk.check(k, spec.reference, sizes, seed=seed, rtol=spec.rtol)


@pytest.mark.parametrize("name,cfg", CASES)
def test_bitwise_equal_to_untransformed(built, name, cfg):
    """Without contraction, no reassociation: the transformed kernel, run serially, with 2
    threads and with 8 threads (static,1), gives bit for bit the untransformed results."""
    spec = LIBRARY[name]
    k = parallel(built, name, cfg)
    base = untransformed(built, name)
    sizes = spec.sizes["test"]
    extra = {p: sizes[p] for p in free_params(spec.op)}
    inputs = spec.op.make_inputs(sizes, seed=11)
    want = copy_args(inputs)
    base(**want, **extra)
    for threads, schedule in [(1, "static")] + THREADS:
        got = copy_args(inputs)
        with polyk.openmp_threads(threads, schedule=schedule):
            k(**got, **extra)
        for a in spec.op.args:
            if a.is_array:
                np.testing.assert_array_equal(
                    got[a.name], want[a.name],
                    err_msg=f"{name} {config_id(cfg)}, {threads} thread(s) {schedule}: "
                            f"{a.name}")


# ---------------------------------------------------------------- options

OP = LIBRARY["gemm"].op if "gemm" in LIBRARY else LIBRARY[NAMES[0]].op


@pytest.mark.parametrize("kw,match", [
    ({"fusion": "max"}, r"unknown option\(s\) fusion; options are .*fuse"),
    ({"tiles": True, "vectorise": 1}, r"unknown option\(s\) tiles, vectorise"),
    ({"scheduler": "identity", "fuse": "max"}, r"identity.*no fusion option"),
    ({"scheduler": "identity", "fuse": "smart"}, r"identity.*no fusion option"),
    ({"fuse": "greedy"}, r"unknown fusion policy 'greedy'; choose one of .*smart"),
    ({"scheduler": "pluto", "fuse": "fuse"}, r"unknown fusion policy"),
    ({"target": "fortran"}, r"unknown target 'fortran'; choose one of .*openmp"),
    ({"scheduler": "feautrier"}, r"unknown scheduler 'feautrier'; choose one of .*pluto"),
    ({"omp_schedule": "dynamic"}, r"omp_schedule must be"),
    ({"coef_bound": 0}, r"coef_bound must be a positive integer"),
    ({"wavefront": "yes"}, r"wavefront must be True, False"),
])
def test_bad_options_refused_with_a_helpful_message(kw, match):
    with pytest.raises(polyk.OptionsError, match=match):
        polyk.generate(OP, compile=False, **kw)


def test_options_error_is_a_polyk_error_and_options_dataclass_validates():
    assert issubclass(polyk.OptionsError, polyk.PolykError)
    with pytest.raises(polyk.OptionsError, match="no fusion option"):
        polyk.Options(scheduler="identity", fuse="none")
    with pytest.raises(polyk.OptionsError, match="unknown target"):
        polyk.generate(OP, "fortran", compile=False)
    opts = polyk.Options(target="openmp", scheduler="isl")
    assert opts.fuse == "smart"                 # the default fusion policy
    assert polyk.Options(scheduler="identity").fuse is None
    with pytest.raises(polyk.OptionsError, match="no fusion option"):
        polyk.generate(OP, options=polyk.Options(fuse="max"), scheduler="identity",
                       compile=False)
    k = polyk.generate(OP, options=opts, fuse="none", compile=False)
    assert k.options.scheduler == "isl" and k.options.fuse == "none"


def test_openmp_threads_validates():
    with pytest.raises(ValueError, match="positive integer"):
        with polyk.openmp_threads(0):
            pass
    with pytest.raises(ValueError, match="unknown OpenMP schedule"):
        with polyk.openmp_threads(2, schedule="fastest"):
            pass


def test_options_object_keeps_its_target():
    """generate(op, options=Options(target="openmp")) must not fall back to serial C."""
    k = polyk.generate(LIBRARY["gemm"].op, options=polyk.Options(target="openmp"),
                       compile=False)
    assert k.options.target == "openmp" and "omp parallel for" in k.source
    k = polyk.generate(LIBRARY["gemm"].op, "c", options=polyk.Options(target="openmp"),
                       compile=False)
    assert k.options.target == "c" and "omp parallel for" not in k.source


def test_small_flat_parallel_loops_get_an_if_clause():
    """A parallel loop without inner loops runs its team only from PARALLEL_MIN_FLAT
    iterations on (atax's initialisations); loops with work inside keep their team. Both
    sides of the clause compute the same (checked at sizes on both sides)."""
    from polyk.codegen.c_printer import PARALLEL_MIN_FLAT
    k = polyk.generate(LIBRARY["atax"].op, target="openmp", tile=True, compile=False)
    assert f"#pragma omp parallel for schedule(static) if((M) >= {PARALLEL_MIN_FLAT})" \
        in k.source
    k = polyk.generate(LIBRARY["gemm"].op, target="openmp", tile=True, compile=False)
    assert "omp parallel for" in k.source and " if(" not in k.source
    op = polyk.Op.from_source(
        "def scale(A: f64[N], B: f64[N]):\n"
        "    for i in range(N):\n"
        "        B[i] = 2.0 * A[i] + 1.0\n",
        namespace={"f64": polyk.f64, "N": polyk.params("N")})
    k = polyk.generate(op, target="openmp")
    assert " if(" in k.source
    for n in (PARALLEL_MIN_FLAT - 1, PARALLEL_MIN_FLAT + 5):
        a = np.arange(n, dtype=np.float64)
        b = np.zeros(n)
        with polyk.openmp_threads(2):
            k(A=a, B=b)
        np.testing.assert_array_equal(b, 2.0 * a + 1.0)
