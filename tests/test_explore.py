"""fit(..., explore=True): other modes found and weighed; the mass estimator on a known target."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import bayesmix as bm
from bayesmix.model.starts import em_starts
from bayesmix.posterior.modes import mode_masses
from bayesmix.report import beyond
from bayesmix.report.reproduce import reproduce_code


def test_mode_masses_recover_known_masses() -> None:
    """A 4-D target with two Gaussian modes of mass 0.97 and 0.03 (and different shapes).

    Chains are exact draws of each mode (two per mode, as exploration runs them); the
    estimate must lie within 4 of its own standard errors of the truth, and that error
    must be small (< 0.005).
    """
    rng = np.random.default_rng(0)
    dim, masses = 4, np.array([0.97, 0.03])
    centres = [np.zeros(dim), np.full(dim, 6.0)]
    covs = [np.eye(dim), np.diag([0.5, 2.0, 1.0, 0.3])]
    parts = [stats.multivariate_normal(c, s) for c, s in zip(centres, covs, strict=True)]

    def log_density(x: np.ndarray) -> float:  # unnormalised: the scale must not matter
        return 17.0 + float(
            np.logaddexp(*(np.log(m) + p.logpdf(x) for m, p in zip(masses, parts, strict=True)))
        )

    chains = [p.rvs(1000, random_state=rng) for p in parts for _ in range(2)]
    out = mode_masses(log_density, chains, [0, 0, 1, 1], rng, n_draws=2000)
    assert np.isclose(out["mass"].sum(), 1.0)
    assert abs(out["mass"][1] - 0.03) < 4 * out["mass_se"][1] and out["mass_se"][1] < 0.005
    assert out["pareto_k"] < 0.7


def test_em_starts_are_distinct_ordered_optima() -> None:
    y = np.asarray(bm.datasets.load("galaxies"), dtype=np.float64)
    spec = bm.MixtureSpec.from_data(y, 3)
    starts = em_starts(y, spec, 20, np.random.default_rng(0))
    assert len(starts) >= 2
    for s in starts:
        assert np.all(np.diff(s["mu_z"]) > 0) and np.isclose(s["weights"].sum(), 1.0)
    signatures = np.array([np.r_[s["mu_z"], np.log(s["sigma_z"])] for s in starts])
    gaps = np.abs(signatures[:, None] - signatures[None]).max(axis=-1)
    assert (gaps[~np.eye(len(starts), dtype=bool)] > 0.2).all()


@pytest.fixture(scope="module")
def explored() -> bm.MixtureResult:
    y = np.asarray(bm.datasets.load("galaxies"), dtype=np.float64)
    return bm.fit(y, 3, random_seed=1, explore=True, progressbar=False)


def test_galaxies_k3_minor_mode_is_found_and_weighed(explored: bm.MixtureResult) -> None:
    """The minor mode no k-means-started chain visits: a wide component near 20,000 km/s.

    Reference: parallel-tempered Gibbs on the same priors, sharing nothing with the
    importance sampling (benchmarks/galaxies_tempered_gibbs.py): 1.34% and 1.18% of
    36,000 draws in two seeds (~390 visits each), so 1.26%. Issue 18 asks for the mass
    within a factor of 2 (its ~0.5% came from a tempered Gibbs run of unstated priors;
    on bayesmix's priors the reference is 1.26%).
    """
    modes = explored.modes
    assert modes is not None and len(modes) >= 2
    assert np.isclose(modes["mass"].sum(), 1.0)
    main, *others = modes.itertuples()
    assert main.sampled_by_fit and main.mass > 0.95
    wide = [m for m in others if max(m.sigma) > 5000]
    assert wide, modes
    minor = wide[0]
    assert 0.0126 / 2 < minor.mass < 0.0126 * 2 and minor.mass_se < minor.mass / 3
    assert modes.attrs["pareto_k"] < 0.7
    # under 5% elsewhere: the fit stands, and the report shows the modes
    assert explored.converged, explored.diagnostics
    text, table = beyond.modes_blocks(explored)
    assert "settled in" in text.text and len(table.rows) == len(modes)
    assert "explore=True" in reproduce_code(explored)  # the exploration can move the fit


def test_a_fit_in_a_light_mode_is_reported(explored: bm.MixtureResult) -> None:
    """If other modes hold more than 5% of the mass, the fit says it describes one mode."""
    raw = json.loads(explored.idata.attrs["bayesmix_modes"])
    for m in raw["modes"]:
        m["mass"] = 0.5
    tree = explored.idata.copy()
    tree.attrs["bayesmix_modes"] = json.dumps(raw)
    diag = bm.MixtureResult(tree).diagnostics
    assert "modes" in diag.failed and not diag.converged
    assert any("holding 50% of the posterior mass" in p for p in diag.problems)
