"""The pointwise log-likelihood group: lazy (a fresh fit's) equals eager, read whole or in part."""

from __future__ import annotations

import numpy as np
import pytest
from arviz_stats import loo
from helpers import fake_result, iid_posterior, record_calls

import bayesmix as bm
from bayesmix.posterior import loglik


@pytest.fixture(scope="module")
def fake() -> bm.MixtureResult:
    y = bm.simulate_mixture(150, [0.4, 0.6], [0.0, 4.0], [1.0, 0.8], random_seed=2)
    w, m, s = iid_posterior(np.random.default_rng(1), [0.4, 0.6], [0.0, 4.0], [1.0, 0.8])
    return fake_result(y, w, m, s)


def test_lazy_equals_eager_whole_and_in_part(fake: bm.MixtureResult) -> None:
    post = fake.idata["posterior"]
    eager = loglik.log_likelihood_dataset(post, fake.data)["y"]
    lazy = loglik.lazy_log_likelihood_dataset(post, fake.data)["y"]
    assert lazy.dims == eager.dims and lazy.shape == eager.shape
    for part in ({"obs": slice(3, 40, 3), "chain": 1}, {"obs": 7, "draw": 5}, {"draw": [4, 0]}):
        np.testing.assert_array_equal(lazy.isel(part).values, eager.isel(part).values)
    np.testing.assert_array_equal(lazy.values, eager.values)
    np.testing.assert_array_equal(lazy.coords["obs"], np.arange(fake.data.size))


def test_nothing_is_computed_until_read(
    fake: bm.MixtureResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch, loglik, "_log_lik")
    ds = loglik.lazy_log_likelihood_dataset(fake.idata["posterior"], fake.data)
    repr(ds)
    assert ds["y"].sizes == {"chain": 4, "draw": 500, "obs": 150} and not calls
    first, again = ds["y"].values, ds["y"].values  # read once, then kept
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first)


def test_loo_reads_the_lazy_group(fake: bm.MixtureResult) -> None:
    tree = fake.idata.copy()
    eager = tree.copy()
    post = tree["posterior"].to_dataset()
    tree["log_likelihood"] = loglik.lazy_log_likelihood_dataset(post, fake.data)
    eager["log_likelihood"] = loglik.log_likelihood_dataset(post, fake.data)
    assert loo(tree).elpd == loo(eager).elpd
