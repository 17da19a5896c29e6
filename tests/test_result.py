"""Result, diagnostics and plot code on posteriors built from known arrays (no NUTS)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from arviz_base import rc_context
from arviz_stats import summary as az_summary
from helpers import fake_result, iid_posterior
from matplotlib.collections import PolyCollection

import bayesmix as bm
from bayesmix.posterior import density as dens


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    return bm.simulate_mixture(400, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], random_seed=11)


@pytest.fixture(scope="module")
def good(y: np.ndarray) -> bm.MixtureResult:
    w, m, s = iid_posterior(np.random.default_rng(0), [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    return fake_result(y, w, m, s)


def test_components_table_is_the_posterior_mean_and_interval(good: bm.MixtureResult) -> None:
    table = good.components_table(ci_prob=0.8)
    post = good.idata["posterior"]
    np.testing.assert_allclose(table["mean"], post["mu"].mean(("chain", "draw")).values)
    np.testing.assert_allclose(
        table["sigma_upper"], post["sigma"].quantile(0.9, dim=("chain", "draw")).values
    )
    assert list(table.index) == [0, 1]
    assert table.attrs["ci_prob"] == 0.8
    assert (table["weight_lower"] < table["weight"]).all()


def test_components_print_their_estimates_in_80_columns(good: bm.MixtureResult) -> None:
    table = good.components
    text = repr(table)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    compact = table.compact()
    assert list(compact.columns) == ["weight", "mean", "sigma"]
    est, lo, hi = (table[c].iloc[1] for c in ("mean", "mean_lower", "mean_upper"))
    d = len(compact.loc[1, "mean"].split(" ")[0].partition(".")[2])  # decimals shown
    assert compact.loc[1, "mean"] == f"{est:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
    assert 10 ** -(d - 1) <= (table["mean_upper"] - table["mean_lower"]).min()  # 2 digits
    assert "% equal-tailed intervals; columns weight, weight_lower, ...)" in text
    assert "<table" in table._repr_html_()
    # the numbers are the wide frame; anything derived from it is a plain DataFrame
    assert table["mean"].dtype == float and type(table[["mean"]]) is pd.DataFrame
    assert compact.loc[0, "weight"] in repr(good)


def test_summary_has_arviz_columns(good: bm.MixtureResult) -> None:
    s = good.summary(ci_prob=0.9)
    assert {"mean", "sd", "ess_bulk", "ess_tail", "r_hat"} <= set(s.columns)
    assert {"eti90_lb", "eti90_ub"} <= set(s.columns)
    assert list(s.index) == ["weights[0]", "weights[1]", "mu[0]", "mu[1]", "sigma[0]", "sigma[1]"]


@pytest.mark.parametrize("ci_prob", [None, 0.9, 0.29])
def test_summary_is_arvizs_summary(good: bm.MixtureResult, ci_prob: float | None) -> None:
    """The batched table: ArviZ's rows, columns, numbers and display strings."""
    ours = good.summary(ci_prob=ci_prob)
    theirs = az_summary(good.idata, var_names=["weights", "mu", "sigma"], ci_prob=ci_prob or 0.89)
    assert list(ours.index) == list(theirs.index)
    assert list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-10)
    assert ours.to_string() == theirs.to_string()


def test_summary_and_the_diagnostics_agree(good: bm.MixtureResult) -> None:
    # ArviZ's summary against the checks' batched r_hat and ESS (mcmcstats)
    table = good.diagnostics.table
    s = good.summary()
    for column in ("r_hat", "ess_bulk", "ess_tail"):
        np.testing.assert_allclose(s[column], table.loc[s.index, column], rtol=1e-8)


def test_summary_options_go_to_arviz(good: bm.MixtureResult) -> None:
    ours = good.summary(var_names=["mu"], ci_kind="hdi", round_to="none")
    theirs = az_summary(good.idata, var_names=["mu"], ci_kind="hdi", round_to="none")
    pd.testing.assert_frame_equal(pd.DataFrame(ours), pd.DataFrame(theirs))


def test_summary_of_variables_outside_the_diagnostics(good: bm.MixtureResult) -> None:
    with rc_context({"stats.ci_prob": 0.8}):
        ours = good.summary(var_names=["sigma"])
        theirs = az_summary(good.idata, var_names=["sigma"])
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=1e-10)
    assert "eti80_lb" in ours.columns


def test_result_methods_agree_with_density_maths(good: bm.MixtureResult) -> None:
    x = np.linspace(-3, 9, 25)
    np.testing.assert_allclose(good.pdf(x), dens.pdf(x, good.draws))
    frame = good.density(x, ci_prob=0.9)
    assert list(frame.columns) == ["x", "mean", "lower", "upper"]
    np.testing.assert_allclose(frame["mean"], good.pdf(x))
    proba = good.predict_proba(x)
    assert proba.shape == (25, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(good.predict([-1.0, 7.0]), [0, 1])
    np.testing.assert_allclose(np.exp(good.score_samples(x)), good.pdf(x), rtol=1e-10)


def test_default_points_are_the_data(good: bm.MixtureResult, y: np.ndarray) -> None:
    assert good.predict_proba().shape == (y.size, 2)
    assert good.predict().shape == (y.size,)
    assert len(good.density()) == 500


def test_data_memberships_are_computed_once(
    y: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, m, s = iid_posterior(np.random.default_rng(2), [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    res = fake_result(y, w, m, s)
    calls = []
    original = dens.predict_proba
    monkeypatch.setattr(dens, "predict_proba", lambda *a: calls.append(1) or original(*a))
    first = res.predict_proba()
    first[:] = -1.0  # the caller's copy: the cached memberships do not change
    np.testing.assert_array_equal(res.predict(), np.argmax(original(y, res.draws), axis=1))
    np.testing.assert_array_equal(res.predict_proba(), original(y, res.draws))
    assert len(calls) == 1
    res.predict_proba(y[:5])  # other points are computed each time
    assert len(calls) == 2


def test_membership_is_confident_at_centres(good: bm.MixtureResult) -> None:
    m = good.membership([0.0, 6.0], ci_prob=0.9)
    assert list(m.columns) == ["point", "x", "component", "mean", "lower", "upper"]
    own = m[m["point"] == m["component"]]
    assert (own["lower"] > 0.95).all()


def test_sample_is_seeded_and_sized(good: bm.MixtureResult) -> None:
    a, b = good.sample(100, random_seed=3), good.sample(100, random_seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100,)
    with pytest.raises(ValueError, match="n=-1"):
        good.sample(-1)


def test_result_is_immutable(good: bm.MixtureResult) -> None:
    with pytest.raises(AttributeError, match="immutable"):
        good.idata = None  # type: ignore[misc]


def test_repr_is_short_and_informative(good: bm.MixtureResult) -> None:
    text = repr(good)
    assert text.startswith("<MixtureResult: 2-component normal mixture of 400 observations")
    assert "4 chains x 500 draws" in text
    assert len(text.splitlines()) <= 5


@pytest.mark.parametrize("ci_prob", [0.0, 1.0, 1.5, -0.1])
def test_bad_ci_prob(good: bm.MixtureResult, ci_prob: float) -> None:
    with pytest.raises(ValueError, match=f"ci_prob={ci_prob}"):
        good.density([0.0], ci_prob=ci_prob)


def test_not_a_bayesmix_tree_is_rejected(good: bm.MixtureResult) -> None:
    tree = good.idata.copy()
    tree.attrs = {}
    with pytest.raises(ValueError, match="no 'bayesmix_spec' attribute"):
        bm.MixtureResult(tree)


# -- diagnostics --------------------------------------------------------------------------
def test_well_mixed_posterior_passes(good: bm.MixtureResult) -> None:
    d = good.diagnostics
    assert d.converged, d
    assert d.table["passed"].all()
    assert d.divergences == 0
    assert good.converged


def test_chain_in_other_mode_is_flagged(y: np.ndarray) -> None:
    w, m, s = iid_posterior(np.random.default_rng(1), [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    m[2] += 2.0  # chain 2 sits 40 posterior sds away
    res = fake_result(y, w, m, s)
    d = res.diagnostics
    assert d.stray_chains == (2,)
    assert any("chain(s) [2] settled in a different mode" in p for p in d.problems)
    assert any("r_hat > 1.01" in p for p in d.problems)
    with pytest.warns(bm.ConvergenceWarning) as record:
        res.check_convergence()
    messages = [str(w.message) for w in record]
    assert len(messages) == len(d.problems)
    assert any("different mode" in msg for msg in messages)


def test_low_ess_is_flagged(y: np.ndarray) -> None:
    w, m, s = iid_posterior(np.random.default_rng(2), [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], draws=50)
    d = fake_result(y, w, m, s).diagnostics
    assert any("effective sample size < 400" in p and "increase draws" in p for p in d.problems)


def test_divergences_are_flagged(y: np.ndarray) -> None:
    w, m, s = iid_posterior(np.random.default_rng(3), [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    div = np.zeros(w.shape[:2], dtype=bool)
    div[0, :7] = True
    d = fake_result(y, w, m, s, diverging=div).diagnostics
    assert d.divergences == 7
    assert any("7 divergent transition(s)" in p and "target_accept" in p for p in d.problems)


def test_autocorrelated_chain_fails_r_hat(y: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0])
    # A slow random walk in one chain's sigma: r_hat and ESS both fail, and name sigma[1].
    s[1, :, 1] = np.exp(np.cumsum(rng.normal(0, 0.05, s.shape[1])))
    d = fake_result(y, w, m, s).diagnostics
    assert not d.table.loc["sigma[1]", "passed"]
    assert any("sigma[1]" in p for p in d.problems)


# -- plots --------------------------------------------------------------------------------
def test_plot_density_draws_every_layer(good: bm.MixtureResult) -> None:
    ax = good.plot_density()
    gids = [artist.get_gid() for artist in ax.get_children()]
    assert "bayesmix-density" in gids
    assert "bayesmix-component-0" in gids and "bayesmix-component-1" in gids
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_gid() for b in bands] == ["bayesmix-band"]
    bars = [p for p in ax.patches if p.get_gid() == "bayesmix-histogram"]
    assert len(bars) > 5
    # The histogram is a density: bar areas sum to 1.
    area = sum(p.get_width() * p.get_height() for p in bars)
    assert area == pytest.approx(1.0, rel=1e-9)
    assert "90% credible band" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_plot_density_into_existing_axes_and_file(good: bm.MixtureResult, tmp_path) -> None:
    fig, axes = plt.subplots(1, 2)
    ax = good.plot_density(ax=axes[1], show_components=False, ci_prob=0.5)
    assert ax is axes[1]
    assert not axes[0].lines
    assert not [a for a in ax.get_children() if str(a.get_gid()).startswith("bayesmix-comp")]
    path = tmp_path / "density.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    plt.close(fig)


def test_plot_trace_returns_a_figure(good: bm.MixtureResult) -> None:
    pc = good.plot_trace()
    fig = pc.viz["figure"].item()
    assert len(fig.axes) >= 6
    plt.close(fig)


def test_frames_are_pandas(good: bm.MixtureResult) -> None:
    assert isinstance(good.components, pd.DataFrame)
    assert isinstance(good.summary(), pd.DataFrame)
