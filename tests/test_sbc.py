"""Simulation-based calibration: the rank helpers (exact, fast) and a small SBC run (slow).

The full calibration runs are their own command (`python -m bayesmix.validation.sbc`,
results in docs/validation.md); here we check the machinery, and that it can fail.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

import bayesmix as bm
from bayesmix.model.build import standardisation
from bayesmix.validation import sbc
from bayesmix.validation.ranks import (
    ALPHA,
    chi_square,
    pit_tree,
    plot_rank_histograms,
    ranks,
    thin,
    uniformity,
)

# -- helpers: exact and statistical checks without NUTS ------------------------------


def test_ranks_count_draws_below_truth() -> None:
    draws = np.array([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0]])
    np.testing.assert_array_equal(ranks([1.5, 4.0], draws), [2, 0])
    np.testing.assert_array_equal(ranks([9.0, 6.5], draws), [3, 2])


def test_thin_keeps_evenly_spaced_rows() -> None:
    draws = np.arange(1000)[:, None]
    kept = thin(draws, 99)
    assert kept.shape == (99, 1)
    steps = np.diff(kept[:, 0])
    assert steps.min() >= 10 and steps.max() <= 11
    np.testing.assert_array_equal(thin(draws, 1000), draws)
    with pytest.raises(ValueError, match="n_keep"):
        thin(draws, 1001)


def test_chi_square_is_zero_for_exactly_uniform_ranks() -> None:
    # 100 rank values in 10 equal bins, and 101 values in 10 unequal bins (10 or 11 each).
    for n_thin in (99, 100):
        stat, p = chi_square(np.repeat(np.arange(n_thin + 1), 3), n_thin, n_bins=10)
        assert stat == pytest.approx(0.0, abs=1e-12) and p == pytest.approx(1.0)


def test_chi_square_accepts_uniform_and_rejects_non_uniform_ranks() -> None:
    rng = np.random.default_rng(0)
    n_thin, n = 99, 500
    assert chi_square(rng.integers(0, n_thin + 1, n), n_thin)[1] > ALPHA
    # Overconfident posterior (truth often outside the draws): U-shaped ranks.
    u_shape = np.where(rng.random(n) < 0.5, rng.integers(0, 10, n), rng.integers(90, 100, n))
    # Biased posterior: ranks pile up at the top; underconfident: a hump in the middle.
    biased = np.minimum(rng.integers(0, n_thin + 1, n) + 30, n_thin)
    hump = rng.binomial(n_thin, 0.5, n)
    for bad in (u_shape, biased, hump):
        assert chi_square(bad, n_thin)[1] < 1e-6


def test_chi_square_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="ranks in 0..9"):
        chi_square([0, 10], n_thin=9)
    with pytest.raises(ValueError, match="n_bins"):
        chi_square([0, 1], n_thin=9, n_bins=11)


def test_rank_machinery_on_an_exact_conjugate_posterior() -> None:
    """Ranks from exact posterior draws are uniform; from too narrow ones, they are not.

    theta ~ N(0, 1), y | theta ~ N(theta, 1): the posterior is N(y / 2, 1 / 2).
    """
    rng = np.random.default_rng(1)
    n_thin, reps = 99, 400
    theta = rng.normal(size=reps)
    y = rng.normal(theta)

    def rank(t: float, loc: float, sd: float) -> int:
        return int(ranks([t], rng.normal(loc, sd, (n_thin, 1)))[0])

    good = [rank(t, v / 2, math.sqrt(0.5)) for t, v in zip(theta, y, strict=True)]
    narrow = [rank(t, v / 2, 0.3) for t, v in zip(theta, y, strict=True)]
    assert chi_square(good, n_thin)[1] > ALPHA
    assert chi_square(narrow, n_thin)[1] < 1e-6


def test_uniformity_table_and_pits() -> None:
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"mu[0]": rng.integers(0, 100, 300), "mu[1]": rng.binomial(99, 0.5, 300)})
    pits = pit_tree(table, n_thin=99)["prior_sbc"].to_dataset()
    assert pits["mu"].dims == ("chain", "draw", "component")
    assert ((pits["mu"] > 0) & (pits["mu"] < 1)).all()
    out = uniformity(table, n_thin=99)
    assert list(out.columns) == ["chi2", "df", "p_value", "passed", "pit_ecdf_p_value"]
    assert out.loc["mu[0]", "passed"] and not out.loc["mu[1]", "passed"]
    assert out.loc["mu[1]", "pit_ecdf_p_value"] < ALPHA


def test_draw_prior_matches_the_model_priors() -> None:
    rng = np.random.default_rng(3)
    priors = bm.Priors(weights_concentration=2.0, mu_loc=1.0, mu_scale=2.0, sigma_scale=0.5)
    draws = [sbc.draw_prior(3, priors, rng) for _ in range(4000)]
    w = np.array([d["weights"] for d in draws])
    mu = np.array([d["mu"] for d in draws])
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert (np.diff(mu, axis=1) > 0).all()
    # Sorted iid normals: the pooled means are N(mu_loc, mu_scale) again.
    assert mu.mean() == pytest.approx(1.0, abs=0.05) and mu.std() == pytest.approx(2.0, rel=0.03)
    np.testing.assert_allclose(w.mean(axis=0), 1 / 3, atol=0.01)
    sd = np.array([d["sigma"] for d in draws])
    assert sd.mean() == pytest.approx(0.5 * math.sqrt(2 / math.pi), rel=0.03)  # half-normal
    for family in ("gamma", "invgamma"):  # both have mean sigma_scale
        p = dataclasses.replace(priors, sigma_prior=family)
        sd = np.array([sbc.draw_prior(2, p, rng)["sigma"] for _ in range(4000)])
        assert (sd > 0).all() and sd.mean() == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("family", ["halfnormal", "gamma", "invgamma"])
def test_model_prior_density_is_the_simulation_prior(family: str) -> None:
    """The PyMC model's prior, mapped back from its standardised scale, is draw_prior's law.

    The model samples mu_z = (mu - loc) / scale and sigma_z = sigma / scale with loc and
    scale from the data; densities of mu and sigma gain the Jacobian 1 / scale. The ordered
    transform only restricts mu to the ordered region, which is the law of sorted iid
    normals up to the constant K!.
    """
    priors = bm.Priors(
        weights_concentration=0.7, mu_loc=1.0, mu_scale=2.0, sigma_scale=0.5, sigma_prior=family
    )
    y = 3 * bm.simulate_mixture(50, [0.5, 0.5], [-1.0, 2.0], [1.0, 1.0], random_seed=1) + 7
    model = bm.build_model(y, bm.MixtureSpec(3, priors))
    loc, scale = standardisation(y)
    sigma_law = {
        "halfnormal": stats.halfnorm(scale=0.5),
        "gamma": stats.gamma(2.0, scale=0.25),
        "invgamma": stats.invgamma(3.0, scale=1.0),
    }[family]
    values = [pt.dvector(), pt.dvector(), pt.dvector()]
    rvs = [model["weights"], model["mu_z"], model["sigma_z"]]
    outputs = [pm.logp(r, v) for r, v in zip(rvs, values, strict=True)]
    logps = pytensor.function(values, outputs, mode="FAST_COMPILE")  # no C or numba compile
    rng = np.random.default_rng(5)
    for _ in range(5):
        t = sbc.draw_prior(3, priors, rng)
        w, mu, sd = logps(t["weights"], (t["mu"] - loc) / scale, t["sigma"] / scale)
        mu, sd = mu - math.log(scale), sd - math.log(scale)
        assert w == pytest.approx(stats.dirichlet.logpdf(t["weights"], [0.7] * 3), abs=1e-8)
        np.testing.assert_allclose(mu, stats.norm.logpdf(t["mu"], 1.0, 2.0), atol=1e-8)
        np.testing.assert_allclose(sd, sigma_law.logpdf(t["sigma"]), atol=1e-8)


def test_sbc_needs_fixed_priors() -> None:
    with pytest.raises(ValueError, match="data-resolved priors make SBC invalid"):
        sbc.SBCConfig(priors=bm.Priors())
    with pytest.raises(ValueError, match="fully numeric"):
        sbc.draw_prior(2, bm.Priors(mu_loc=0.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_components"):
        sbc.SBCConfig(n_components=1)


def test_rank_histograms_are_written(tmp_path) -> None:
    rng = np.random.default_rng(4)
    table = pd.DataFrame({f"{v}[{k}]": rng.integers(0, 20, 30) for v in "ab" for k in (0, 1)})
    plot_rank_histograms(table, 19, tmp_path / "ranks.png", n_bins=5)
    assert (tmp_path / "ranks.png").stat().st_size > 1000


# -- a small SBC run with real NUTS ---------------------------------------------------

SMALL = ["--reps", "8", "--n-obs", "40", "--draws", "100", "--tune", "200", "--n-thin", "19"]


@pytest.mark.slow
def test_small_sbc_run_writes_ranks_tests_and_figures(tmp_path) -> None:
    assert sbc.main(["--k", "2", "--bins", "5", "--out", str(tmp_path), *SMALL]) == 0
    ranks_csv = pd.read_csv(tmp_path / "sbc_k2_ranks.csv")
    assert len(ranks_csv) == 8 and (ranks_csv["error"].isna()).all()
    cols = [c for c in ranks_csv.columns if c.startswith("rank_")]
    assert len(cols) == 6
    assert ranks_csv[cols].min().min() >= 0 and ranks_csv[cols].max().max() <= 19
    table = pd.read_csv(tmp_path / "sbc_k2_uniformity.csv", index_col="parameter")
    assert list(table.index) == sbc.SBCConfig().parameters
    assert table["p_value"].between(0, 1).all()
    summary = json.loads((tmp_path / "sbc_k2_summary.json").read_text())
    assert summary["replications"] == 8 and summary["sampling_errors"] == 0
    for name in ("sbc_k2_ranks.png", "sbc_k2_ecdf_pit.png"):
        assert (tmp_path / name).stat().st_size > 1000


@pytest.mark.slow
def test_sbc_detects_a_miscalibrated_prior() -> None:
    """Truth drawn with mu_loc shifted by 25 prior sds, fitted with the original prior.

    The fitted prior N(0, 2) pulls the means of 30 points centred near 50 towards 0 by
    several posterior sds, so the true means sit above nearly all posterior draws: their
    ranks pile up at the top and the chi-square test must reject, even with 8 replications.
    (Milder shifts are detected too, but need many more replications: with 30 points the
    likelihood dominates the prior.)
    """
    shifted = dataclasses.replace(sbc.DEFAULT_PRIORS, mu_loc=50.0)
    config = sbc.SBCConfig(n_obs=30, simulation_priors=shifted, draws=100, tune=200, n_thin=19)
    df = sbc.run_sbc(config, reps=8, seed=5)
    table = uniformity(sbc.rank_table(df, config), config.n_thin, n_bins=5)
    assert (table.loc[["mu[0]", "mu[1]"], "p_value"] < ALPHA).all()
