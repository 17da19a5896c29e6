"""The overfitted (sparse) mixture: the posterior of K+ (real NUTS; slow)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import bayesmix as bm


@pytest.mark.slow
def test_k_plus_concentrates_on_the_truth() -> None:
    y, truth = bm.simulate_mixture(
        300,
        [0.3, 0.4, 0.3],
        [-5.0, 0.0, 5.0],
        [1.0, 1.0, 1.0],
        random_seed=4,
        return_labels=True,
    )
    with warnings.catch_warnings():
        # Empty components are the point here, and their weights mix slowly.
        warnings.simplefilter("ignore", bm.ComponentWarning)
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        res = bm.fit_sparse(
            y, max_components=6, random_seed=1, draws=500, tune=1000, progressbar=False
        )
    k_plus = res.occupied_components()
    assert k_plus.idxmax() == 3
    assert k_plus[3] > 0.8
    # The groups are the true ones. (Component-wise means are not: with empty components
    # interleaved in the ordering, a component index changes role between draws.)
    part = res.partition(max_draws=200)
    assert np.unique(part).size == 3
    for group in range(3):
        _, counts = np.unique(part[truth == group], return_counts=True)
        assert counts.max() / counts.sum() > 0.95


def test_fit_sparse_sets_the_small_concentration(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_fit(data, n_components, *, priors, **options):  # type: ignore[no-untyped-def]
        seen.update(k=n_components, priors=priors, options=options)
        return "result"

    monkeypatch.setattr(sys.modules["bayesmix.sampling.sparse"], "fit", fake_fit)
    out = bm.fit_sparse([1.0, 2.0, 3.0], 5, priors=bm.Priors(mu_scale=3.0), draws=10)
    assert out == "result"
    assert seen["k"] == 5 and seen["options"] == {"draws": 10}
    assert seen["priors"] == bm.Priors(weights_concentration=0.01, mu_scale=3.0)
