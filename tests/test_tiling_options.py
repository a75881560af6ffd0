"""Every library kernel under combinations of the tiling options: tile sizes (dividing the
problem or not, and 1) x second level x diamond x unroll-and-jam x packing x separation x
simd marks x serial/OpenMP. Each result must be bitwise that of the untransformed kernel
under -ffp-contract=off, and the legality checker (run by generate) must pass.

CI runs a seeded sample that meets every kernel and every value of every option; the full
product is marked slow (`pytest -m slow` or POLYK_SLOW=1). A combination that makes no
sense (an unroll-and-jam factor larger than the tiles) must be refused by option
validation with a message naming both, and is checked as such.
"""

from __future__ import annotations

import itertools
import random
import re

import numpy as np
import pytest

import polyk
from polyk.kernels import LIBRARY

from conftest import copy_args, free_params, slow_enabled

AXES = {
    "tile": [(1, 1, 1), (5, 7, 3), (16, 16, 16), (32, 8, 64), True],
    "l2_tile": [False, (2, 2, 2)],
    "diamond": [False, "auto"],
    "unroll_jam": [False, None, (2, 4), (3, 8)],
    "pack": [False, True],
    "separate": [True, False],
    "simd": ["omp", "ivdep", False],
    "target": ["c", "openmp"],
}


def refused(opts) -> bool:
    """Combinations polyk.Options must refuse: unroll factors beyond every tile size."""
    uj, tile = opts.get("unroll_jam"), opts["tile"]
    return isinstance(uj, tuple) and isinstance(tile, tuple) and max(uj) > max(tile)


def may_be_refused(opts) -> bool:
    """A factor beyond some tile size: refused when the register block is placed, if the
    loop it falls on has that tile size."""
    uj, tile = opts.get("unroll_jam"), opts["tile"]
    return isinstance(uj, tuple) and isinstance(tile, tuple) and max(uj) > min(tile)


def _sample(rng, n_per_kernel):
    """A seeded sample: each kernel gets ``n_per_kernel`` combinations, and over the whole
    sample every value of every axis occurs (values are dealt round-robin, then shuffled)."""
    names = sorted(LIBRARY)
    total = len(names) * n_per_kernel
    columns = {}
    for axis, values in AXES.items():
        col = [values[k % len(values)] for k in range(total)]
        rng.shuffle(col)
        columns[axis] = col
    out = []
    for k in range(total):
        out.append((names[k // n_per_kernel], {a: columns[a][k] for a in AXES}))
    return out


SAMPLE = _sample(random.Random(5), 2)
# the full product: the axes (tile x l2 x diamond x unroll-and-jam x packing) with
# the other options at their defaults, every kernel; only built when slow cases run
FULL_AXES = ("tile", "l2_tile", "diamond", "unroll_jam", "pack")


def _full():
    out = []
    for n in sorted(LIBRARY):
        for combo in itertools.product(*(AXES[a] for a in FULL_AXES)):
            out.append((n, dict(zip(FULL_AXES, combo))))
    return out


def pytest_generate_tests(metafunc):
    """CI: the seeded sample; ``pytest -m slow`` / POLYK_SLOW=1: the sample and the full
    product (collected only then, so a CI run does not carry thousands of skips)."""
    if metafunc.function.__name__ != "test_kernel_under_tiling_options":
        return
    cases = [pytest.param(n, o, id=f"{n}-{k}") for k, (n, o) in enumerate(SAMPLE)]
    if slow_enabled(metafunc.config):
        cases += [pytest.param(n, o, id=f"{n}-full{k}", marks=pytest.mark.slow)
                  for k, (n, o) in enumerate(_full())]
    metafunc.parametrize("name,opts", cases)


@pytest.fixture(scope="module")
def baselines():
    return {}


def _baseline(baselines, name):
    spec = LIBRARY[name]
    sz = spec.sizes["test"]
    extra = {p: sz[p] for p in free_params(spec.op)}
    if name not in baselines:
        inp = spec.op.make_inputs(sz, seed=23)
        out = copy_args(inp)
        polyk.generate(spec.op, scheduler="identity", fp_contract=False)(**out, **extra)
        baselines[name] = (inp, out, extra)
    return baselines[name]


def test_sample_meets_every_kernel_and_every_option_value():
    assert {n for n, _ in SAMPLE} == set(LIBRARY)
    for axis, values in AXES.items():
        seen = [o[axis] for _, o in SAMPLE]
        assert all(any(v == s and type(v) is type(s) for s in seen) for v in values), axis


def test_kernel_under_tiling_options(baselines, name, opts):
    spec = LIBRARY[name]
    if refused(opts):
        with pytest.raises(polyk.OptionsError, match="unroll_jam factor .* larger than"):
            polyk.generate(spec.op, fp_contract=False, compile=False, **opts)
        return
    inp, want, extra = _baseline(baselines, name)
    try:
        k = polyk.generate(spec.op, fp_contract=False, **opts)
    except polyk.OptionsError as e:
        assert may_be_refused(opts), e
        assert re.search(r"unroll_jam factor \d+ is larger than the tile size \d+", str(e))
        return
    got = copy_args(inp)
    with polyk.openmp_threads(2):
        k(**got, **extra)
    for a in spec.op.args:
        if a.is_array:
            np.testing.assert_array_equal(got[a.name], want[a.name],
                                          err_msg=f"{name}: {a.name} with {opts}")
