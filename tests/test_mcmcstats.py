"""Batched r_hat / ESS / MCSE (diagnostics.mcmcstats) against ArviZ's own, one at a time.

ArviZ is the reference: every function must give its numbers, on well-mixed, sticky,
stuck, tied, constant and NaN-holding draws, for any number of chains and draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from arviz_base import rc_context
from arviz_stats.base import array_stats
from helpers import record_calls
from scipy.stats import rankdata

from bayesmix.diagnostics import mcmckernels, mcmcstats


def draws(chains: int, n: int, seed: int = 0) -> np.ndarray:
    """Quantities of every kind ArviZ must handle, shape (quantity, chain, draw)."""
    rng = np.random.default_rng(seed)
    q = 12
    walk = rng.normal(size=(q, chains, n)).cumsum(axis=-1) * rng.uniform(0, 0.3, (q, 1, 1))
    x = walk + rng.normal(size=(q, chains, n))
    x[0] = 3.0  # constant: ESS = size, r_hat NaN
    x[1] = np.round(x[1])  # many ties
    x[2, -1] += 8.0  # one chain in another mode
    x[3, :, -1] = np.nan  # a NaN: ArviZ answers NaN
    x[4] = np.repeat(x[4, :, : (n + 1) // 2], 2, axis=-1)[..., :n]  # NUTS repeating draws
    x[5] = rng.exponential(size=(chains, n)) ** 3  # heavy right tail
    return x


def _reference(func: str, x: np.ndarray, **kwargs: object) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(getattr(array_stats, func)(x, **kwargs), dtype=float)


CASES = {
    "rhat": (mcmcstats.rhat, lambda x: _reference("rhat", x)),
    "ess_bulk": (mcmcstats.ess_bulk, lambda x: _reference("ess", x, method="bulk")),
    "ess_tail": (
        mcmcstats.ess_tail,
        lambda x: _reference("ess", x, method="tail", prob=(1 - 0.89, 0.89)),
    ),
    "ess_mean": (mcmcstats.ess_mean, lambda x: _reference("ess", x, method="mean")),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("shape", [(4, 1000), (1, 400), (2, 7), (3, 101), (4, 4), (4, 3)])
def test_equals_arviz(name: str, shape: tuple[int, int]) -> None:
    ours, theirs = CASES[name]
    x = draws(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = ours(x)
    want = theirs(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def test_convergence_equals_the_three_functions() -> None:
    x = draws(4, 500, seed=3)
    r_hat, bulk, tail = mcmcstats.convergence(x)
    np.testing.assert_array_equal(r_hat, mcmcstats.rhat(x))
    np.testing.assert_array_equal(bulk, mcmcstats.ess_bulk(x))
    np.testing.assert_array_equal(tail, mcmcstats.ess_tail(x))


def test_one_chain_has_ess_but_no_r_hat() -> None:
    r_hat, bulk, _ = mcmcstats.convergence(draws(1, 200))
    assert np.isnan(r_hat).all()
    assert np.isfinite(bulk[[0, 1, 2, 4, 5]]).all()


def test_tail_probability_follows_arviz_rcparams() -> None:
    x = draws(4, 300, seed=5)
    with rc_context({"stats.ci_prob": 0.9}):
        got = mcmcstats.ess_tail(x)
        _, _, tail = mcmcstats.convergence(x)
    want = _reference("ess", x, method="tail", prob=(1 - 0.9, 0.9))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_array_equal(tail, got)


def test_rank_codes_are_scipys_average_ranks_of_values_and_distances_to_median() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 80))
        x = rng.integers(0, int(rng.integers(1, 30)), size=(4, n)).astype(float)
        x[0] = rng.normal(size=n)  # no ties
        x[1, : n // 4], x[1, n - n // 4 :] = -np.inf, np.inf  # infinite distances tie
        bulk, folded = np.empty(x.shape, dtype=np.intp), np.empty(x.shape, dtype=np.intp)
        mcmckernels.rank_codes(x, np.argsort(x, axis=-1), bulk, folded)
        distances = np.abs(x - np.median(x, axis=-1, keepdims=True))
        np.testing.assert_array_equal(bulk / 2 + 1, rankdata(x, axis=-1))
        np.testing.assert_array_equal(folded / 2 + 1, rankdata(distances, axis=-1))


@pytest.mark.parametrize("direct_lags", [1, 4, 10_000])
def test_direct_and_fft_autocovariances_give_arvizs_ess(
    direct_lags: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quantities past the direct lags go to the FFT; either way, ArviZ's numbers."""
    monkeypatch.setattr(mcmcstats, "DIRECT_LAGS", direct_lags)
    x = draws(4, 300, seed=13)
    for name in ("ess_bulk", "ess_tail", "ess_mean"):
        ours, theirs = CASES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = ours(x)
        np.testing.assert_allclose(got, theirs(x), rtol=1e-10, atol=0)


def test_direct_autocovariances_stop_at_geyers_cut_off() -> None:
    rng = np.random.default_rng(17)
    x = np.stack((rng.normal(size=(4, 500)), rng.normal(size=(4, 500)).cumsum(axis=-1)))
    acov = np.full((2, 500), np.nan)
    acov[:, 0] = np.var(x, axis=-1).mean(axis=-1)
    mcmckernels.leading_autocov(x, *mcmcstats._variances(x, acov[:, 0]), 50, acov)
    computed = (~np.isnan(acov)).sum(axis=1)
    rho = mcmcstats._autocorr(x, acov)
    pairs = [1 + rho[0, 1]] + [rho[0, t] + rho[0, t + 1] for t in range(2, computed[0], 2)]
    assert computed[0] < 50 and computed[0] % 2 == 0  # white noise stops early, at a pair
    assert all(p > 0 for p in pairs[:-1]) and pairs[-1] <= 0  # the first non-positive one
    assert computed[1] == 50  # a random walk: every allowed lag
    centred = x - x.mean(axis=-1, keepdims=True)
    for t in range(computed[0]):
        want = np.mean(np.sum(centred[0, :, : 500 - t] * centred[0, :, t:], axis=-1) / 500)
        assert acov[0, t] == pytest.approx(want, rel=1e-12)


def test_rejects_arrays_without_a_quantity_axis() -> None:
    with pytest.raises(ValueError, match=r"shape \(quantity, chain, draw\), got \(4, 100\)"):
        mcmcstats.rhat(np.zeros((4, 100)))


def test_identical_quantities_are_computed_once_with_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = draws(4, 300, seed=9)
    repeated = np.concatenate((x, x[[5, 2, 5]]))
    calls = record_calls(monkeypatch, mcmcstats, "_convergence_rows")
    got = mcmcstats.convergence(repeated)
    # the quantity with an all-NaN answer (3) is not computed
    assert sum(len(values) for values, _ in calls) == x.shape[0] - 1
    want = mcmcstats.convergence(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, np.concatenate((w, w[[5, 2, 5]])))


def _arviz_geyer(rho: np.ndarray) -> float:
    """The truncation loops of arviz_stats' ``_ess``, verbatim, on given autocorrelations."""
    n_draw = rho.size
    rho_hat_t = np.zeros(n_draw)
    rho_hat_even = 1.0
    rho_hat_t[0] = rho_hat_even
    rho_hat_odd = rho[1]
    rho_hat_t[1] = rho_hat_odd
    t = 1
    while t < (n_draw - 3) and (rho_hat_even + rho_hat_odd) > 0.0:
        rho_hat_even, rho_hat_odd = rho[t + 1], rho[t + 2]
        if (rho_hat_even + rho_hat_odd) >= 0:
            rho_hat_t[t + 1] = rho_hat_even
            rho_hat_t[t + 2] = rho_hat_odd
        t += 2
    max_t = t - 2
    if rho_hat_even > 0:
        rho_hat_t[max_t + 1] = rho_hat_even
    t = 1
    while t <= max_t - 2:
        if (rho_hat_t[t + 1] + rho_hat_t[t + 2]) > (rho_hat_t[t - 1] + rho_hat_t[t]):
            rho_hat_t[t + 1] = (rho_hat_t[t - 1] + rho_hat_t[t]) / 2.0
            rho_hat_t[t + 2] = rho_hat_t[t + 1]
        t += 2
    tau = -1.0 + 2.0 * np.sum(rho_hat_t[: max_t + 1]) + np.sum(rho_hat_t[max_t + 1 : max_t + 2])
    return float("nan") if np.isnan(rho_hat_t).any() else float(tau)


def test_geyer_truncation_is_arvizs_on_every_branch() -> None:
    """Rising pairs (monotone step), a pair of exactly 0, negative even terms, NaN, short."""
    rng = np.random.default_rng(11)
    crafted = [
        [1.0, 0.5, 0.25, 0.3, 0.2, 0.25, 0.1, -0.1, 0.05, 0.0],  # a rising pair, then stop
        [1.0, 0.5, 0.25, -0.25, 0.3, 0.1, 0.0, 0.0, 0.1, 0.1],  # a pair of exactly 0
        [1.0, 0.4, -0.2, 0.1, -0.3, 0.1, 0.2, 0.2, 0.1, 0.0],  # negative even terms
        [1.0, -1.5, 0.3, 0.3, 0.1, 0.0, 0.1, 0.1, 0.0, 0.0],  # P_0 <= 0: no pair kept
        [1.0, np.nan, 0.3, 0.3, 0.1, 0.0, 0.1, 0.1, 0.0, 0.0],
        [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # never stops
    ]
    rows = [np.array(r) for r in crafted]
    rows += [np.array(r[:m]) for r in crafted[:3] for m in (2, 3, 4, 5)]
    decay = 0.9 ** np.arange(60)
    rows += [decay + rng.normal(0, s, 60) * (np.arange(60) > 0) for s in (0.01, 0.1, 0.4)]
    for rho in rows:
        got = mcmcstats._geyer_tau(rho[None, :])[0][0]
        want = _arviz_geyer(rho)
        if np.isnan(want):
            assert np.isnan(got), rho
        else:
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), rho
