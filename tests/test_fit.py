"""Statistical tests with real NUTS: recovery, ordering, equivariance, seeds, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import FAST, QUICKSTART_TRUTH, THREE_TRUTH
from scipy import integrate

import bayesmix as bm


def covers(res: bm.MixtureResult, truth: dict[str, list[float]], ci_prob: float) -> None:
    """Every true value lies in its interval, with ``ci_prob`` the family-wise level.

    Marginal 90% intervals of 6-9 parameters all cover the truth only about half the
    time, even for an exact posterior; Bonferroni's per-parameter level
    ``1 - (1 - ci_prob) / n`` makes the joint statement hold with probability >= ci_prob.
    """
    n_params = 3 * len(truth["mu"])
    table = res.components_table(ci_prob=1.0 - (1.0 - ci_prob) / n_params)
    for label, param in (("weight", "weights"), ("mean", "mu"), ("sigma", "sigma")):
        lower, upper = table[f"{label}_lower"].values, table[f"{label}_upper"].values
        true = np.asarray(truth[param])
        assert np.all((lower <= true) & (true <= upper)), (param, lower, true, upper)


def test_quickstart_recovers_the_truth(quickstart_fit: bm.MixtureResult) -> None:
    covers(quickstart_fit, QUICKSTART_TRUTH, ci_prob=0.9)
    assert quickstart_fit.converged, quickstart_fit.diagnostics


def test_three_components_recovered(three_fit: bm.MixtureResult) -> None:
    covers(three_fit, THREE_TRUTH, ci_prob=0.9)
    assert three_fit.converged, three_fit.diagnostics


def test_means_are_ordered_in_every_draw(three_fit: bm.MixtureResult) -> None:
    mu = three_fit.idata["posterior"]["mu"].values
    assert np.all(np.diff(mu, axis=-1) > 0)


def test_fit_records_what_it_did(quickstart_fit: bm.MixtureResult) -> None:
    tree = quickstart_fit.idata
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(tree.children)
    assert tree["log_likelihood"]["y"].dims == ("chain", "draw", "obs")
    s = quickstart_fit.sampler_settings
    assert s["random_seed"] == 2 and s["draws"] == 1000 and s["chains"] == 4
    assert s["sampler"] in {"pymc", "nutpie"}
    assert len(tree.attrs["bayesmix_data_sha256"]) == 64


def test_fitted_pdf_integrates_to_one(quickstart_fit: bm.MixtureResult) -> None:
    res = quickstart_fit
    lo, hi = res.data.min() - 30, res.data.max() + 30
    x = np.linspace(lo, hi, 20_001)
    assert integrate.trapezoid(res.pdf(x), x) == pytest.approx(1.0, abs=1e-3)


def test_predict_proba_rows_sum_to_one(quickstart_fit: bm.MixtureResult) -> None:
    proba = quickstart_fit.predict_proba()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # Far into each tail, membership is certain.
    np.testing.assert_array_equal(quickstart_fit.predict([-3.0, 12.0]), [0, 1])


def test_fit_is_equivariant_under_affine_maps(
    quickstart_y: np.ndarray, quickstart_fit: bm.MixtureResult
) -> None:
    a, b = 250.0, 1e4
    moved = bm.fit(a * quickstart_y + b, n_components=2, random_seed=2, **FAST)
    base = quickstart_fit.summary()
    other = moved.summary()
    for name in ("mu[0]", "mu[1]", "sigma[0]", "sigma[1]", "weights[0]"):
        shift = b if name.startswith("mu") else 0.0
        scale = a if not name.startswith("weights") else 1.0
        # Same seed, same standardised data: the draws agree up to floating point, and at
        # worst within 4 Monte Carlo standard errors of each other.
        mcse = np.hypot(scale * base.loc[name, "mcse_mean"], other.loc[name, "mcse_mean"])
        assert other.loc[name, "mean"] == pytest.approx(
            scale * base.loc[name, "mean"] + shift, abs=4 * mcse
        )


def test_same_seed_gives_identical_draws(quickstart_y: np.ndarray) -> None:
    kwargs = {"draws": 50, "tune": 50, "chains": 2, "progressbar": False, "random_seed": 9}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)  # 50 draws: ESS is low
        first = bm.fit(quickstart_y, 2, **kwargs)
        second = bm.fit(quickstart_y, 2, **kwargs)
    for name in ("weights", "mu", "sigma"):
        np.testing.assert_array_equal(
            first.idata["posterior"][name].values, second.idata["posterior"][name].values
        )


def test_too_short_a_run_warns_with_remedy(three_y: np.ndarray) -> None:
    with pytest.warns(bm.ConvergenceWarning) as record:
        res = bm.fit(three_y, 3, draws=30, tune=30, chains=2, random_seed=0, progressbar=False)
    messages = " ".join(str(w.message) for w in record)
    assert "effective sample size < 400" in messages and "increase draws" in messages
    assert not res.converged
    assert "NOT converged" in repr(res)


def test_single_component_fit(quickstart_y: np.ndarray) -> None:
    y = quickstart_y[:300]
    res = bm.fit(y, 1, random_seed=2, **FAST)
    table = res.components
    assert table.loc[0, "weight"] == 1.0
    assert table.loc[0, "mean"] == pytest.approx(np.mean(y), abs=0.1)
    assert table.loc[0, "sigma"] == pytest.approx(np.std(y), rel=0.05)
    assert res.converged


def test_membership_confident_at_separated_centres(three_fit: bm.MixtureResult) -> None:
    m = three_fit.membership(THREE_TRUTH["mu"], ci_prob=0.9)
    own = m[m["point"] == m["component"]]
    assert (own["mean"] > 0.95).all(), own


def test_membership_uncertain_between_overlapping_components(
    quickstart_fit: bm.MixtureResult,
) -> None:
    proba = quickstart_fit.predict_proba(np.linspace(2, 5, 61))[:, 0]
    x_mid = np.linspace(2, 5, 61)[np.argmin(np.abs(proba - 0.5))]
    m = quickstart_fit.membership([x_mid], ci_prob=0.9)
    width = (m["upper"] - m["lower"]).to_numpy()
    # Where the components overlap, parameter uncertainty moves the boundary: the 90%
    # interval of P(component | x) spans more than 0.1 (at a centre it is ~0.01).
    assert (width > 0.1).all(), m
    assert 0.3 < m["mean"].iloc[0] < 0.7


def test_large_fits_do_not_store_the_pointwise_log_likelihood(
    quickstart_y: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bayesmix.sampling import nuts

    # 2 chains x 30 draws x 1000 observations = 60000 values, above a limit of 50000.
    monkeypatch.setattr(nuts, "LOG_LIK_STORE_MAX_VALUES", 50_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        res = bm.fit(
            quickstart_y, 2, draws=30, tune=30, chains=2, random_seed=0, progressbar=False
        )
    assert "log_likelihood" not in res.idata.children
    assert "log_lik" not in res.diagnostics.table.index  # the rest still works
    assert np.isfinite(res.pdf([0.0, 5.0])).all()


def test_large_fits_check_the_log_posterior_instead(quickstart_fit: bm.MixtureResult) -> None:
    """Without a stored log-likelihood (large N), the sampler's log density is checked."""
    tree = quickstart_fit.idata.copy()
    del tree["log_likelihood"]
    table = bm.MixtureResult(tree, model=quickstart_fit.model).diagnostics.table
    assert "log_lik" not in table.index
    assert table.loc["log_posterior", "label_invariant"]
    assert table.loc["log_posterior", "r_hat"] < 1.01


@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")  # 100 draws: not the point
def test_the_log_likelihood_is_computed_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from bayesmix.posterior import loglik

    calls = []
    original = loglik._log_lik
    monkeypatch.setattr(loglik, "_log_lik", lambda *a: calls.append(1) or original(*a))
    y = bm.simulate_mixture(200, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=8)
    res = bm.fit(y, 2, draws=100, tune=100, random_seed=1, progressbar=False)
    res.summary(), res.density(), res.diagnostics, res.predict_proba()
    assert "log_likelihood" in res.idata.children and not calls
    values = res.idata["log_likelihood"]["y"].values
    assert len(calls) == 1
    eager = loglik.log_likelihood_dataset(res.idata["posterior"], y)["y"].values
    np.testing.assert_array_equal(values, eager)
