"""Shared test set-up: a private kernel cache per test session, and small helpers."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep compiled kernels of a test run apart from the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("POLYK_CACHE_DIR", str(tmp_path_factory.mktemp("polyk-cache")))
    mp.delenv("POLYK_NO_CACHE", raising=False)
    yield
    mp.undo()


def free_params(op) -> list[str]:
    """Parameters that no array shape determines (time steps): passed by keyword."""
    return [p for p in op.params
            if not any(p in d.coeffs for a in op.args if a.is_array for d in a.shape)]


def copy_args(inp: dict) -> dict:
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in inp.items()}


def slow_enabled(config) -> bool:
    return os.environ.get("POLYK_SLOW") == "1" or "slow" in (config.option.markexpr or "")


@pytest.fixture(autouse=True)
def _slow_gate(request):
    """Cases marked ``slow`` (full option products) run with ``pytest -m slow`` or
    POLYK_SLOW=1; CI runs a deterministic subset that still covers every kernel."""
    if request.node.get_closest_marker("slow") and not slow_enabled(request.config):
        pytest.skip("slow: part of a full product (pytest -m slow, or POLYK_SLOW=1)")
