"""Memberships, co-clustering, partitions, K+ and label-invariant checks (no NUTS)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
import pytest
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.posterior import density as dens
from bayesmix.posterior import membership


@pytest.fixture(scope="module")
def separated() -> tuple[np.ndarray, np.ndarray, bm.MixtureResult]:
    y, z = bm.simulate_mixture(
        120,
        [0.3, 0.3, 0.4],
        [-8.0, 0.0, 8.0],
        [1.0, 1.0, 1.0],
        random_seed=2,
        return_labels=True,
    )
    w, m, s = iid_posterior(
        np.random.default_rng(0), [0.3, 0.3, 0.4], [-8.0, 0.0, 8.0], [1.0, 1.0, 1.0], draws=100
    )
    return y, z, fake_result(y, w, m, s)


def test_label_draws_follow_the_responsibilities() -> None:
    rng = np.random.default_rng(1)
    d = dens.Draws.normal(np.array([[0.5, 0.5]]), np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    y = np.full(20_000, 0.5)  # equidistant: P(z = 1) = 0.5 exactly
    labels = membership.sample_labels(y, d, rng)
    # Binomial(20000, 0.5): sd 0.0035; 5 sd tolerance.
    assert labels.mean() == pytest.approx(0.5, abs=0.018)
    y2 = np.full(20_000, 3.0)
    p1 = dens.predict_proba(y2, d)[0, 1]
    assert membership.sample_labels(y2, d, rng).mean() == pytest.approx(p1, abs=0.018)


def test_n_occupied_counts_distinct_labels() -> None:
    labels = np.array([[0, 0, 0], [0, 2, 2], [0, 1, 2], [3, 3, 1]])
    np.testing.assert_array_equal(membership.n_occupied(labels), [1, 2, 3, 2])


def test_coclustering_is_a_similarity_matrix(separated) -> None:
    y, z, res = separated
    psm = res.coclustering(max_draws=50)
    assert psm.shape == (y.size, y.size)
    np.testing.assert_allclose(psm, psm.T, atol=1e-12)
    np.testing.assert_array_equal(np.diag(psm), 1.0)
    assert psm.min() >= 0.0 and psm.max() <= 1.0 + 1e-12
    same = z[:, None] == z[None, :]
    # Separated by 8 sds: pairs of one group are together, pairs across are apart.
    assert psm[same].mean() > 0.97 and psm[~same].mean() < 0.03


def test_coclustering_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    w, m, s = iid_posterior(
        rng, [0.5, 0.5], [0.0, 1.5], [1.0, 1.0], chains=1, draws=30, spread=0.2
    )
    d = dens.Draws.normal(w[0], m[0], s[0])
    y = np.array([-1.0, 0.7, 0.8, 3.0])
    r = dens.responsibilities(y, d)  # (S, n, K)
    expected = np.einsum("sik,sjk->ij", r, r) / d.n_draws
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(membership.coclustering(y, d), expected, rtol=1e-12)


def test_coclustering_refuses_huge_n(monkeypatch: pytest.MonkeyPatch, separated) -> None:
    monkeypatch.setattr(membership, "MAX_COCLUSTER_N", 10)
    with pytest.raises(ValueError, match="at most 10 points"):
        separated[2].coclustering()


@pytest.mark.parametrize("loss", ["binder", "vi"])
def test_best_partition_recovers_separated_groups(separated, loss: str) -> None:
    _, z, res = separated
    part = res.partition(loss=loss, max_draws=40)
    np.testing.assert_array_equal(part, z)


def test_losses_prefer_the_truth() -> None:
    z = np.array([0, 0, 1, 1])
    psm = (z[:, None] == z[None, :]).astype(float)
    assert membership.binder_loss(z, psm) == 0.0
    assert membership.binder_loss(np.array([0, 0, 0, 1]), psm) == 3.0
    draws = np.tile(z, (5, 1))
    assert membership.vi_loss(z, draws) == pytest.approx(0.0, abs=1e-12)
    assert membership.vi_loss(np.array([0, 1, 2, 3]), draws) == pytest.approx(np.log(2))
    with pytest.raises(ValueError, match="loss='l2'"):
        membership.best_partition(draws, z, psm, loss="l2")


def test_occupied_components_is_a_distribution(separated) -> None:
    _, _, res = separated
    k_plus = res.occupied_components(max_draws=50)
    assert list(k_plus.index) == [1, 2, 3]
    assert k_plus.sum() == pytest.approx(1.0)
    assert k_plus[3] == 1.0


def test_plot_membership_has_a_line_and_band_per_component(separated) -> None:
    ax = separated[2].plot_membership()
    gids = {a.get_gid() for a in ax.get_children()}
    for k in range(3):
        assert f"bayesmix-membership-{k}" in gids and f"bayesmix-membership-band-{k}" in gids
    assert "bayesmix-rug" in gids
    plt.close(ax.figure)


# -- label-invariant diagnostics and component warnings ----------------------------------
def test_label_invariant_quantities_are_checked(separated) -> None:
    table = separated[2].diagnostics.table
    invariant = set(table.index[table["label_invariant"]])
    assert {"weights_sorted[0]", "density(q50)"} <= invariant
    assert "mu[0]" not in invariant


def test_two_mode_posterior_is_caught_by_label_invariant_checks() -> None:
    """Chains 0-1 and 2-3 sit in different modes whose ordered means agree exactly."""
    y = bm.simulate_mixture(300, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], random_seed=8)
    rng = np.random.default_rng(9)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], spread=0.02)
    w[2:] = w[2:, :, ::-1] * 0 + np.array([0.8, 0.2])  # a second mode: weights 0.8 / 0.2
    s[2:] *= 1.6
    diag = fake_result(y, w, m, s).diagnostics
    invariant = diag.table[diag.table["label_invariant"]]
    assert (invariant["r_hat"] > 1.01).any()
    assert (
        invariant.loc[[i for i in invariant.index if i.startswith("density")], "r_hat"] > 1.01
    ).any()
    # two groups of two: no majority, so no chain is "the" stray one, and the message
    # names the groups (it once said "chain(s) [0, 1, 2, 3] settled in a different mode")
    assert diag.stray_chains == (0, 1, 2, 3)
    assert any("split into groups [0, 1] and [2, 3]" in p for p in diag.problems), diag.problems
    assert not diag.converged


def test_empty_and_collapsed_components_warn() -> None:
    y = bm.simulate_mixture(200, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=4)
    rng = np.random.default_rng(5)
    w, m, s = iid_posterior(rng, [0.4995, 0.001, 0.4995], [0.0, 2.0, 5.0], [1.0, 0.005, 1.0])
    res = fake_result(y, w, m, s)
    issues = res.diagnostics.component_issues
    assert any(i.startswith("component 1 is empty") for i in issues)
    assert any(
        i.startswith("component 1 has collapsed") and "sigma_prior='gamma'" in i for i in issues
    )
    assert res.diagnostics.effective_components == pytest.approx(2.0, abs=0.05)
    with pytest.warns(bm.ComponentWarning, match="component 1"):
        res.check_convergence()


def test_zero_avoiding_sigma_priors() -> None:
    y = bm.simulate_mixture(100, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=6)
    for family, op in (("gamma", "gamma"), ("invgamma", "invgamma"), ("halfnormal", "halfnormal")):
        spec = bm.MixtureSpec.from_data(y, 2, bm.Priors(sigma_prior=family))  # type: ignore[arg-type]
        model = bm.build_model(y, spec)
        assert op in str(model["sigma_z"].owner.op)
        # Zero-avoiding: the prior density vanishes as sigma -> 0 (not so the half-normal).
        tiny = pm.logp(model["sigma_z"], np.array([1e-6, 1e-6])).sum().eval()
        assert (tiny > -10) if family == "halfnormal" else (tiny < -20)
    with pytest.raises(ValueError, match="sigma_prior='lognormal' must be one of"):
        bm.Priors(sigma_prior="lognormal")  # type: ignore[arg-type]


def test_component_of_one_or_two_points_is_flagged_as_an_outlier() -> None:
    y = bm.simulate_mixture(200, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=4)
    w, m, s = iid_posterior(
        np.random.default_rng(6), [0.495, 0.495, 0.01], [0.0, 5.0, 40.0], [1.0, 1.0, 1.0]
    )
    issues = fake_result(y, w, m, s).diagnostics.component_issues
    assert [i for i in issues if i.startswith("component 2 holds only 2")], issues
    assert not [i for i in issues if i.startswith("component 2 is empty")]
