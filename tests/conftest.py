"""Shared test set-up: a private kernel cache per test session, and small helpers."""

from __future__ import annotations

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
