"""Exact tests of the mixture maths against scipy and NumPy, of its chunking and threads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from bayesmix import density as dens
from bayesmix import parallel
from bayesmix.likelihood import _EXP_TAYLOR, _LN2_HI, _LN2_LO, _LOG2E
from bayesmix.quantiles import mixture_densities, quantiles


@pytest.fixture
def draws() -> dens.Draws:
    rng = np.random.default_rng(42)
    s, k = 300, 3
    w = rng.dirichlet(np.ones(k) * 5, size=s)
    mu = np.sort(rng.normal([-3.0, 0.0, 4.0], 0.3, size=(s, k)), axis=1)
    sigma = rng.uniform(0.5, 1.5, size=(s, k))
    return dens.Draws(w, mu, sigma)


def reference_density_draws(x: np.ndarray, d: dens.Draws) -> np.ndarray:
    """p(x | theta_s) from scipy, shape (S, n)."""
    comp = stats.norm.pdf(x[None, :, None], d.mu[:, None, :], d.sigma[:, None, :])
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
        x[None, :, None], draws.mu[:, None, :], draws.sigma[:, None, :]
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
    np.testing.assert_array_equal(thin.mu[0], draws.mu[0])
    np.testing.assert_array_equal(thin.mu[-1], draws.mu[-1])
    assert draws.thin(None) is draws


@pytest.mark.parametrize("bad", [[[1.0, 2.0]], [np.nan], [np.inf, 1.0]])
def test_points_are_checked(draws: dens.Draws, bad: list[object]) -> None:
    with pytest.raises(ValueError, match="x "):
        dens.pdf(bad, draws)


def test_memberships_far_out_are_finite_and_go_to_the_widest_component() -> None:
    d = dens.Draws(np.array([[0.5, 0.5]]), np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]]))
    proba = dens.predict_proba(np.array([-1e4, 1e4, 1e150]), d)
    np.testing.assert_allclose(proba, [[0.0, 1.0]] * 3, atol=1e-300)
    # a weight that underflowed to 0 gets no points
    d = dens.Draws(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(dens.predict_proba(np.array([1.0]), d), [[1.0, 0.0]], atol=1e-300)


def test_threads_give_bit_identical_numbers(
    draws: dens.Draws, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.linspace(-6, 7, 400)  # 300 draws x 400 points: above the parallel threshold
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 3)  # uneven row blocks
    threaded = (dens.pointwise_log_lik(x, draws), dens.responsibilities(x, draws))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 10**12)
    serial = (dens.pointwise_log_lik(x, draws), dens.responsibilities(x, draws))
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [False, True])
def test_quantiles_are_numpys_bit_for_bit(threads: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tails, middles, NumPy's edge cases (q = 0 or 1, one draw), ties, sorted and NaN.

    Bit for bit unless 0.0 and -0.0 tie: then either may be picked, as in any selection.
    """
    if threads:
        monkeypatch.setattr(parallel.os, "cpu_count", lambda: 3)
        monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 1)
    rng = np.random.default_rng(8)
    cases = [
        rng.lognormal(size=shape) for shape in [(1,), (2, 3), (5, 4), (130, 9, 2), (4000, 11)]
    ]
    cases += [
        np.round(rng.normal(size=(4000, 13)), 1) + 0.0,  # many ties (+ 0.0: no -0.0)
        np.sort(rng.normal(size=(1000, 9)), axis=0),
        np.sort(rng.normal(size=(1000, 9)), axis=0)[::-1],  # and not C-contiguous
        rng.dirichlet(np.full(3, 0.05), size=(2000, 10)),  # memberships: 0s and 1s
    ]
    with_nan = rng.normal(size=(300, 6))
    with_nan[17, 2] = np.nan
    cases.append(with_nan)
    for values in cases:
        for q in ([0.05, 0.95], [0.025, 0.975], [0.0, 1.0], [0.5, 0.5], [0.3, 0.31], [1 / 3, 0.9]):
            qs = np.array(q)
            ours, ref = quantiles(values, qs), np.quantile(values, qs, axis=0)
            assert ours.shape == ref.shape
            np.testing.assert_array_equal(ours.view(np.int64), ref.view(np.int64))


def reference_band_densities(x: np.ndarray, d: dens.Draws) -> np.ndarray:
    """The density band's formula in NumPy, shape (S, n): the kernel's numbers, bit for bit.

    ``sum_k w_k exp(-z^2) ** 2 / (sigma_k sqrt(2 pi))`` with z = (x - mu_k) / (2 sigma_k) and
    the inline exp of :func:`bayesmix.likelihood._exp_parts`, operation for operation.
    """
    coef = d.weights / (d.sigma * np.sqrt(2.0 * np.pi))
    half_inv = 0.5 / d.sigma
    out = np.zeros((d.n_draws, x.size))
    for k in range(d.n_components):
        z = (x[None, :] - d.mu[:, k, None]) * half_inv[:, k, None]
        with np.errstate(over="ignore"):  # x = 1e300: z * z = inf, clamped as in the kernel
            t = np.maximum(-(z * z), -700.0)
        e = np.floor(t * _LOG2E + 0.5)
        r = t - e * _LN2_HI - e * _LN2_LO
        p = np.full_like(r, 1.0 / 479001600.0)
        for c in _EXP_TAYLOR:
            p = p * r + c
        h = np.ldexp(p, e.astype(np.int64))
        out = out + coef[:, k, None] * h * h
    return out


def assert_band_is_reference(x: np.ndarray, d: dens.Draws, ci_prob: float) -> None:
    """Mean and interval bit for bit those of NumPy on the reference densities."""
    band = dens.density_band(x, d, ci_prob)
    ref = reference_band_densities(x, d)
    tail = (1.0 - ci_prob) / 2.0  # 0.04999999999999999 for 0.9: not 0.05
    lower, upper = np.quantile(ref, [tail, 1.0 - tail], axis=0)
    for got, want in ((band.mean, ref.mean(axis=0)), (band.lower, lower), (band.upper, upper)):
        assert got.shape == (x.size,)
        np.testing.assert_array_equal(got, want)


def test_band_reference_is_the_mixture_density(draws: dens.Draws) -> None:
    x = np.linspace(-12, 13, 60)
    ref = reference_band_densities(x, draws)
    # exponents of -500 here: rounding them costs ~500 * 1.1e-16 in relative terms
    np.testing.assert_allclose(ref, reference_density_draws(x, draws), rtol=1e-13, atol=0)
    np.testing.assert_array_equal(mixture_densities(x, *dens._normal_terms(draws)), ref.T)


def test_bands_are_numpy_quantiles(draws: dens.Draws) -> None:
    x = np.linspace(-6, 7, 40)
    for ci_prob in (0.9, 0.8, 0.5, 0.999):
        assert_band_is_reference(x, draws, ci_prob)
        members = dens.membership_band(x, draws, ci_prob)
        resp = dens.responsibilities(x, draws)
        tail = (1.0 - ci_prob) / 2.0
        np.testing.assert_array_equal(members.lower, np.quantile(resp, tail, axis=0))
        np.testing.assert_array_equal(members.upper, np.quantile(resp, 1.0 - tail, axis=0))


def test_band_agrees_with_the_log_density_path() -> None:
    """Within 1e-13 of exp(log-sum-exp), the densities of :func:`dens.pdf`, at S = 4000."""
    rng = np.random.default_rng(5)
    s = 4000
    w = rng.dirichlet(np.ones(3) * 5, size=s)
    mu = np.sort(rng.normal([-3.0, 0.0, 4.0], 0.3, size=(s, 3)), axis=1)
    d = dens.Draws(w, mu, rng.uniform(0.5, 1.5, size=(s, 3)))
    x = np.linspace(-15, 20, 203)  # lower bounds down to 1e-104: ~3e-14 apart (1e-16 * 240)
    band = dens.density_band(x, d, 0.9)
    old = np.exp(dens.pointwise_log_lik(x, d))
    tail = (1.0 - 0.9) / 2.0
    lower, upper = np.quantile(old, [tail, 1.0 - tail], axis=0)
    np.testing.assert_allclose(band.mean, old.mean(axis=0), rtol=1e-13, atol=0)
    np.testing.assert_allclose(band.lower, lower, rtol=1e-13, atol=0)
    np.testing.assert_allclose(band.upper, upper, rtol=1e-13, atol=0)
    np.testing.assert_allclose(band.mean, dens.pdf(x, d), rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    ("s", "k", "n"), [(300, 1, 37), (300, 5, 8), (2, 3, 9), (3, 2, 17), (5, 4, 1), (130, 3, 0)]
)
def test_band_shapes_and_small_draw_counts(s: int, k: int, n: int) -> None:
    """Any K, n not a multiple of the tile of 8 (or 0), a few draws: NumPy's numbers."""
    rng = np.random.default_rng(s + k + n)
    d = dens.Draws(
        rng.dirichlet(np.ones(k), size=s),
        rng.normal(0.0, 2.0, size=(s, k)),
        rng.uniform(0.3, 2.0, size=(s, k)),
    )
    x = np.sort(rng.normal(0.0, 4.0, size=n))
    for ci_prob in (0.9, 0.5):
        assert_band_is_reference(x, d, ci_prob)


def test_band_special_cases_are_numpys(draws: dens.Draws) -> None:
    """One draw, and ci_prob = 1 (min and max): NumPy's quantiles of stored densities."""
    x = np.linspace(-6, 7, 21)
    one = dens.Draws(draws.weights[:1], draws.mu[:1], draws.sigma[:1])
    band = dens.density_band(x, one, 0.9)
    ref = reference_band_densities(x, one)[0]
    for values in (band.mean, band.lower, band.upper):
        np.testing.assert_array_equal(values, ref)
    band = dens.density_band(x, draws, 1.0)
    ref = reference_band_densities(x, draws)
    np.testing.assert_array_equal(band.lower, ref.min(axis=0))
    np.testing.assert_array_equal(band.upper, ref.max(axis=0))
    np.testing.assert_allclose(band.mean, ref.mean(axis=0), rtol=1e-14)


def test_band_zero_weights_and_far_points(draws: dens.Draws) -> None:
    """A weight of exactly 0 adds nothing; far out every density underflows to 0.0."""
    w = draws.weights.copy()
    w[::3, 2] = 0.0
    w[::3] /= w[::3].sum(axis=1, keepdims=True)
    d = dens.Draws(w, draws.mu, draws.sigma)
    x = np.array([-1e6, -200.0, -45.0, -3.0, 0.5, 4.0, 60.0, 300.0, 1e300])
    assert_band_is_reference(x, d, 0.9)
    band = dens.density_band(x, d, 0.9)
    for values in (band.mean, band.lower, band.upper):
        assert np.all(values[[0, 1, 7, 8]] == 0.0)
        assert np.all(values[3:6] > 0.0)
    # draws whose third component is empty: the band of the two-component mixture
    two = dens.Draws(w[::3, :2], draws.mu[::3, :2], draws.sigma[::3, :2])
    zero = dens.Draws(w[::3], draws.mu[::3], draws.sigma[::3])
    a, b = dens.density_band(x, two, 0.8), dens.density_band(x, zero, 0.8)
    for name in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_band_threads_give_bit_identical_numbers(
    draws: dens.Draws, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.linspace(-6, 7, 61)  # 8 tiles, the last partial: uneven blocks over 3 threads
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 10**12)
    serial = dens.density_band(x, draws, 0.9)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ELEMENTS", 1)
    threaded = dens.density_band(x, draws, 0.9)
    for name in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(serial, name))
