"""Shared fits: each NUTS fit used by several tests is sampled once per session."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import bayesmix as bm
from bayesmix.cli.demo import quickstart_data

matplotlib.use("Agg")

#: The blog post's example: 60/40 mixture of N(1, 1) and N(5, 2), n = 1000.
QUICKSTART_TRUTH = {"weights": [0.6, 0.4], "mu": [1.0, 5.0], "sigma": [1.0, 2.0]}
#: Three separated components.
THREE_TRUTH = {"weights": [0.3, 0.5, 0.2], "mu": [-4.0, 0.0, 5.0], "sigma": [1.0, 0.7, 1.5]}
#: A fast sampler setting for tests where accuracy is not the point.
FAST = {"draws": 1000, "tune": 1000, "chains": 4, "progressbar": False}


@pytest.fixture(scope="session")
def quickstart_y() -> np.ndarray:
    return quickstart_data()


@pytest.fixture(scope="session")
def quickstart_fit(quickstart_y: np.ndarray) -> bm.MixtureResult:
    return bm.fit(quickstart_y, n_components=2, random_seed=2, **FAST)


@pytest.fixture(scope="session")
def three_y() -> np.ndarray:
    t = THREE_TRUTH
    return bm.simulate_mixture(600, t["weights"], t["mu"], t["sigma"], random_seed=3)


@pytest.fixture(scope="session")
def three_fit(three_y: np.ndarray) -> bm.MixtureResult:
    return bm.fit(three_y, n_components=3, random_seed=3, **FAST)
