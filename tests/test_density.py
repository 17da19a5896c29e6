"""Exact tests of the mixture maths against scipy and NumPy, of its chunking and threads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from bayesmix.posterior import density as dens


@pytest.fixture
def draws() -> dens.Draws:
    rng = np.random.default_rng(42)
    s, k = 300, 3
    w = rng.dirichlet(np.ones(k) * 5, size=s)
    mu = np.sort(rng.normal([-3.0, 0.0, 4.0], 0.3, size=(s, k)), axis=1)
    sigma = rng.uniform(0.5, 1.5, size=(s, k))
    return dens.Draws.normal(w, mu, sigma)


def reference_density_draws(x: np.ndarray, d: dens.Draws) -> np.ndarray:
    """p(x | theta_s) from scipy, shape (S, n)."""
    comp = stats.norm.pdf(x[None, :, None], d["mu"][:, None, :], d["sigma"][:, None, :])
    return (d.weights[:, None, :] * comp).sum(axis=-1)


def test_pdf_matches_scipy(draws: dens.Draws) -> None:
    x = np.linspace(-8, 9, 101)
    expected = reference_density_draws(x, draws).mean(axis=0)
    np.testing.assert_allclose(dens.pdf(x, draws), expected, rtol=1e-10, atol=0)


def test_log_pdf_is_log_of_pdf_and_finite_far_out(draws: dens.Draws) -> None:
    x = np.linspace(-8, 9, 51)
    np.testing.assert_allclose(np.exp(dens.log_pdf(x, draws)), dens.pdf(x, draws), rtol=1e-10)
    far = dens.log_pdf([-200.0, 300.0], draws)
    assert np.isfinite(far).all()
    assert (far < -1000).all()


def test_pointwise_log_lik_matches_scipy(draws: dens.Draws) -> None:
    y = np.array([-3.2, 0.1, 4.4, 10.0])
    expected = np.log(reference_density_draws(y, draws))
    np.testing.assert_allclose(dens.pointwise_log_lik(y, draws), expected, rtol=1e-10)


def test_pdf_integrates_to_one(draws: dens.Draws) -> None:
    total, _ = integrate.quad(lambda v: dens.pdf([v], draws)[0], -40, 40, limit=200)
    assert abs(total - 1.0) < 1e-6


def test_band_brackets_mean_and_matches_quantiles(draws: dens.Draws) -> None:
    x = np.linspace(-6, 7, 40)
    band = dens.density_band(x, draws, ci_prob=0.9)
    ref = reference_density_draws(x, draws)
    np.testing.assert_allclose(band.lower, np.quantile(ref, 0.05, axis=0), rtol=1e-10)
    np.testing.assert_allclose(band.upper, np.quantile(ref, 0.95, axis=0), rtol=1e-10)
    assert (band.lower <= band.mean).all() and (band.mean <= band.upper).all()


def test_memberships_sum_to_one_and_match_bayes_rule(draws: dens.Draws) -> None:
    x = np.linspace(-6, 7, 33)
    proba = dens.predict_proba(x, draws)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    comp = draws.weights[:, None, :] * stats.norm.pdf(
        x[None, :, None], draws["mu"][:, None, :], draws["sigma"][:, None, :]
    )
    expected = (comp / comp.sum(axis=-1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(proba, expected, rtol=1e-10, atol=1e-14)


def test_membership_band_is_consistent(draws: dens.Draws) -> None:
    x = np.array([-3.0, 0.5, 4.0])
    band = dens.membership_band(x, draws, ci_prob=0.8)
    np.testing.assert_allclose(band.mean, dens.predict_proba(x, draws), rtol=1e-12)
    assert (band.lower <= band.mean + 1e-15).all() and (band.mean <= band.upper + 1e-15).all()


def test_component_curves_sum_to_pdf(draws: dens.Draws) -> None:
    x = np.linspace(-6, 7, 50)
    np.testing.assert_allclose(
        dens.component_curves(x, draws).sum(axis=0), dens.pdf(x, draws), rtol=1e-12
    )


def test_chunked_equals_unchunked(draws: dens.Draws, monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.linspace(-6, 7, 97)
    whole = (dens.pdf(x, draws), dens.predict_proba(x, draws), dens.log_pdf(x, draws))
    # Force chunks of one point each: every code path then loops over 97 chunks.
    monkeypatch.setattr(dens, "CHUNK_ELEMENTS", 1)
    parts = (dens.pdf(x, draws), dens.predict_proba(x, draws), dens.log_pdf(x, draws))
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_sample_predictive_follows_the_predictive_density(draws: dens.Draws) -> None:
    sample = dens.sample_predictive(20_000, draws, np.random.default_rng(7))
    grid = np.linspace(-15, 15, 3001)
    cdf = np.cumsum(dens.pdf(grid, draws)) * (grid[1] - grid[0])
    # KS test at the 0.1% level against the (numerically integrated) predictive CDF.
    result = stats.kstest(sample, lambda v: np.interp(v, grid, cdf))
    assert result.pvalue > 1e-3


def test_sample_predictive_is_seeded(draws: dens.Draws) -> None:
    a = dens.sample_predictive(50, draws, np.random.default_rng(1))
    b = dens.sample_predictive(50, draws, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_thin_keeps_evenly_spaced_draws(draws: dens.Draws) -> None:
    thin = draws.thin(10)
    assert thin.n_draws == 10
    np.testing.assert_array_equal(thin["mu"][0], draws["mu"][0])
    np.testing.assert_array_equal(thin["mu"][-1], draws["mu"][-1])
    assert draws.thin(None) is draws


@pytest.mark.parametrize("bad", [[[1.0, 2.0]], [np.nan], [np.inf, 1.0]])
def test_points_are_checked(draws: dens.Draws, bad: list[object]) -> None:
    with pytest.raises(ValueError, match="x "):
        dens.pdf(bad, draws)


def test_memberships_far_out_are_finite_and_go_to_the_widest_component() -> None:
    d = dens.Draws.normal(np.array([[0.5, 0.5]]), np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]]))
    proba = dens.predict_proba(np.array([-1e4, 1e4, 1e150]), d)
    np.testing.assert_allclose(proba, [[0.0, 1.0]] * 3, atol=1e-300)
    # a weight that underflowed to 0 gets no points
    d = dens.Draws.normal(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(dens.predict_proba(np.array([1.0]), d), [[1.0, 0.0]], atol=1e-300)
