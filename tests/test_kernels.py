"""Every library kernel, generated as C: equal to its NumPy reference at several sizes
(non-square and size-1 edges included) and bitwise equal to the op run as plain Python."""

from __future__ import annotations

import numpy as np
import pytest

import polyk
from polyk.kernels import LIBRARY

from conftest import copy_args, free_params

NAMES = list(LIBRARY)


@pytest.fixture(scope="module")
def kernels():
    return {}


def _kernel(cache, name, **options):
    key = (name, tuple(sorted(options.items())))
    if key not in cache:
        cache[key] = polyk.generate(LIBRARY[name].op, target="c", **options)
    return cache[key]


@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_at_test_sizes(kernels, name):
    spec = LIBRARY[name]
    k = _kernel(kernels, name)
    sizes = spec.test_sizes()
    assert len(sizes) >= 2
    for seed, sz in enumerate(sizes):
        err = polyk.check(k, spec.reference, sz, seed=seed)
        assert err >= 0.0


# NumPy's exp/log/pow/... (its own SIMD code) and libm's differ in the last bit, so for
# kernels that call them the Python run is matched to a few ulps, not bitwise. sqrt is
# correctly rounded in both.
_LIBM = {"exp", "log", "pow", "sin", "cos", "tan", "tanh"}


def _uses_libm(op) -> bool:
    from polyk.scop.expr import ECall
    return any(isinstance(e, ECall) and e.fn in _LIBM
               for s in op.program.statements for e in s.body.value.walk())


@pytest.mark.parametrize("name", NAMES)
def test_bitwise_equal_to_python_run(kernels, name):
    """Without multiply-add contraction, C performs exactly the Python run's operations."""
    spec = LIBRARY[name]
    k = _kernel(kernels, name, fp_contract=False)
    sz = spec.sizes["python"]
    inp = spec.op.make_inputs(sz, seed=7)
    extra = {p: sz[p] for p in free_params(spec.op)}
    by_c, by_py = copy_args(inp), copy_args(inp)
    assert k(**by_c, **extra) is None
    spec.op(**by_py, **extra)
    changed = False
    for a in spec.op.args:
        if a.is_array:
            if _uses_libm(spec.op):
                np.testing.assert_allclose(by_c[a.name], by_py[a.name], err_msg=a.name,
                                           rtol=2e-4 if a.dtype.name == "f32" else 1e-12)
            else:
                np.testing.assert_array_equal(by_c[a.name], by_py[a.name], err_msg=a.name)
            changed |= not np.array_equal(by_c[a.name], inp[a.name])
    assert changed, "the kernel changed nothing"


def test_specialised_sizes_match_reference():
    spec = LIBRARY["gemm"]
    sz = {"NI": 13, "NJ": 7, "NK": 5}
    k = polyk.generate(spec.op, sizes=sz)
    assert "const int64_t NI = 13;" in k.source
    assert polyk.check(k, spec.reference, sz) >= 0.0


def test_stages_are_inspectable():
    k = polyk.generate(LIBRARY["gemm"].op, compile=False)
    assert not k.compiled
    assert [s.name for s in k.scop.statements] == ["S0", "S1"]
    assert not k.dependences.flow.is_empty()
    assert "for (int64_t" in k.source and "restrict" in k.source
    assert k.schedule.scheduler == "pluto"
    with pytest.raises(RuntimeError, match="compile=False"):
        k()
