"""Shared fixtures for the MPC tests."""

from __future__ import annotations

import numpy as np
import pytest

SIZES = [0, 1, 7, 100_003]
"""Every operation is tested at sizes 0, 1, odd and ≥ 10^5."""

# Signed operands inside the published comparison range |x| < 2^62.
RANGE = 1 << 62


@pytest.fixture(params=SIZES, ids=lambda n: f"n={n}")
def size(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
