"""Choosing K by PSIS-LOO: the selection rule, the table against ArviZ, flags and warnings.

Real NUTS is kept to five fits of the suite's FAST size (plus the session's shared
``three_fit``), shared through module fixtures where tests can share; the rest runs on
posteriors built from known arrays. The full-size check over K = 1..6 is marked slow.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from arviz_stats import compare as az_compare
from arviz_stats import loo
from conftest import FAST, THREE_TRUTH
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.sampling.comparison import AUTO_COMPONENTS
from bayesmix.sampling.selection import _select

compare_module = sys.modules["bayesmix.sampling.comparison"]


@contextlib.contextmanager
def recorded() -> Iterator[list[Any]]:
    """Record every warning, for tests that check several at once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def run_compare(*args: Any, **kwargs: Any) -> tuple[bm.Comparison, list[Any], str]:
    """Run compare, keeping its warnings and its stderr progress lines."""
    err = io.StringIO()
    with recorded() as caught, contextlib.redirect_stderr(err):
        cmp = bm.compare(*args, **kwargs)
    return cmp, list(caught), err.getvalue()


@pytest.fixture(scope="module")
def three(three_y: np.ndarray, three_fit: bm.MixtureResult) -> tuple[bm.Comparison, list[Any]]:
    """K = 2 and 3 on three separated components; K = 3 is the session's shared fit."""
    two = bm.fit(three_y, 2, random_seed=3, **FAST)
    with recorded() as caught:
        cmp = bm.Comparison.from_fits({3: three_fit, 2: two})
    return cmp, list(caught)


@pytest.fixture(scope="module")
def one() -> tuple[bm.Comparison, list[Any], str]:
    """The whole of compare() on one-component data: fits K = 1 and 2."""
    y = np.random.default_rng(5).normal(10.0, 2.0, 300)
    return run_compare(y, [1, 2], random_seed=5, **{**FAST, "progressbar": True})


# -- real NUTS -----------------------------------------------------------------------------
def test_three_separated_components_select_three(three: Any) -> None:
    cmp, caught = three
    assert cmp.best_k == 3 and cmp.best is cmp.fits[3]
    assert list(cmp.fits) == [2, 3] and list(cmp.table.index) == [2, 3]
    assert cmp.table["converged"].all(), cmp
    assert caught == []


def test_one_component_selects_one_and_reports_progress(one: Any) -> None:
    cmp, caught, err = one
    assert cmp.best_k == 1 and cmp.table.loc[1, "converged"]
    lines = err.splitlines()
    assert [line.split(") ")[0] for line in lines] == [
        "bayesmix.compare: K=1 (1/2",
        "bayesmix.compare: K=2 (2/2",
    ]
    assert lines[0].split(") ")[1].startswith("converged, ")
    assert {f.sampler_settings["random_seed"] for f in cmp.fits.values()} == {5}
    # Each unconverged K gets exactly one ConvergenceWarning, naming K; none is dropped.
    conv = [str(w.message) for w in caught if issubclass(w.category, bm.ConvergenceWarning)]
    bad = [k for k, ok in cmp.table["converged"].items() if not ok]
    assert sorted(m.split(":")[0] for m in conv) == [f"K={k}" for k in bad]
    for k in bad:
        assert "ConvergenceWarning" in cmp.table.loc[k, "problems"]


def test_table_agrees_with_arviz(three: Any, one: Any) -> None:
    for cmp in (three[0], one[0]):
        for k, res in cmp.fits.items():
            direct = loo(res.idata, pointwise=True)
            assert cmp.table.loc[k, "n_high_pareto_k"] == int((direct.pareto_k > 0.7).sum())
            if cmp.table.loc[k, "n_high_pareto_k"] == 0:  # else moment matching changed it
                row = cmp.table.loc[k]
                assert row["elpd_loo"] == pytest.approx(direct.elpd, rel=1e-12)
                assert row["se"] == pytest.approx(direct.se, rel=1e-12)
                assert row["p_loo"] == pytest.approx(direct.p, rel=1e-12)
    cmp = three[0]
    assert cmp.table["elpd_diff"].tolist()[1] == 0.0  # K = 3 is the reference
    ref = az_compare({k: r.idata for k, r in cmp.fits.items()}, round_to="none")
    np.testing.assert_allclose(cmp.table["elpd_diff"], ref.loc[[2, 3], "elpd_diff"])
    np.testing.assert_allclose(cmp.table["dse"], ref.loc[[2, 3], "dse"])
    np.testing.assert_allclose(cmp.table["weight"], ref.loc[[2, 3], "weight"], atol=1e-6)


def test_bad_fit_is_flagged_and_never_selected(three_y: np.ndarray, three: Any) -> None:
    # So little tuning that NUTS cannot adapt (tune=5 leaves a chain stuck: see the test
    # of a fit PSIS-LOO cannot score).
    with recorded() as caught:
        bad = bm.fit(three_y, 3, tune=10, draws=50, chains=2, random_seed=3, progressbar=False)
    assert any(issubclass(w.category, bm.ConvergenceWarning) for w in caught)
    with recorded() as caught:
        cmp = bm.Comparison.from_fits({2: three[0].fits[2], 3: bad})
    conv = [str(w.message) for w in caught if issubclass(w.category, bm.ConvergenceWarning)]
    assert len(conv) == 1 and conv[0].startswith("K=3: the fit did not converge")
    t = cmp.table
    assert not t.loc[3, "converged"] and t.loc[2, "converged"]
    assert t.loc[3, "problems"].startswith("ConvergenceWarning: ")
    # Its ELPD is higher, yet the unconverged fit is not the reference and not selected.
    assert t.loc[3, "elpd_loo"] > t.loc[2, "elpd_loo"]
    assert cmp.best_k == 2 and t.loc[2, "elpd_diff"] == 0.0 and t.loc[3, "elpd_diff"] > 0
    assert np.isnan(t.loc[3, "weight"]) and t.loc[2, "weight"] == pytest.approx(1.0)
    assert "UNRELIABLE" not in repr(cmp)
    # With nothing converged, the choice is made but flagged loudly.
    with recorded() as caught:
        alone = bm.Comparison.from_fits({3: bad})
    assert str(caught[-1].message).startswith("no fit converged (K in [3]); the selected K=3")
    assert alone.best_k == 3 and "UNRELIABLE" in repr(alone)


def test_plot_has_one_marker_per_k(three: Any) -> None:
    cmp = three[0]
    ax = cmp.plot()
    points = [x for bars in ax.containers for x in bars[0].get_xdata()]
    assert sorted(points) == [2, 3]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == {"converged", "selected K=3"}
    plt.close(ax.figure)


def test_repr_names_the_choice_and_the_table(three: Any) -> None:
    text = repr(three[0])
    assert text.startswith("<Comparison of K in [2, 3] by PSIS-LOO: selected K=3")
    assert "elpd_loo" in text and "n_high_pareto_k" in text


def test_moment_matching_lowers_pareto_k() -> None:
    # One real fit (K = 1, n = 101): the only check that ArviZ's moment matching runs on
    # our PyMC model, so it stays in the default suite (~15 s).
    y = np.r_[np.random.default_rng(1).normal(0.0, 1.0, 100), 9.0]
    cmp, caught, _ = run_compare(y, [1], random_seed=5, **FAST)
    assert not [w for w in caught if issubclass(w.category, bm.LOOWarning)]
    assert cmp.table.loc[1, "problems"].startswith("moment matching: 1 -> 0")
    assert float(cmp.elpd[1].influence_pareto_k.max()) > 0.7 > float(cmp.elpd[1].pareto_k.max())


# -- no NUTS ------------------------------------------------------------------------------
def rule_table(elpd_diff: list[float], dse: list[float], eligible: list[bool]) -> pd.DataFrame:
    index = pd.Index(range(1, len(elpd_diff) + 1), name="n_components")
    n_parameters = [3 * k - 1 for k in index]  # normal components
    frame = {"elpd_diff": elpd_diff, "dse": dse, "eligible": eligible}
    return pd.DataFrame({**frame, "n_parameters": n_parameters}, index)


@pytest.mark.parametrize(
    ("elpd_diff", "dse", "eligible", "expected"),
    [
        ([-50.0, -1.0, 0.0, -0.5], [8.0, 2.0, 0.0, 1.0], [True] * 4, 2),  # within one dse
        ([-50.0, -3.0, 0.0, -0.5], [8.0, 2.0, 0.0, 1.0], [True] * 4, 3),  # clearly worse
        ([-50.0, -1.0, 0.0, 4.0], [8.0, 2.0, 0.0, 1.0], [True, False, True, False], 3),
        ([-50.0, -1.0, 0.0], [8.0, 2.0, 0.0], [False] * 3, 2),  # none eligible: all
    ],
)
def test_selection_rule(
    elpd_diff: list[float], dse: list[float], eligible: list[bool], expected: int
) -> None:
    assert _select(rule_table(elpd_diff, dse, eligible)) == expected


@pytest.mark.parametrize(
    ("elpd_diff", "expected"),
    [
        ([-1.0, 0.0, -0.5], ("normal", 2)),  # all within one dse: fewest parameters
        ([-9.0, 0.0, -0.5], ("student_t", 2)),  # 7 parameters before normal K=3's 8
        ([-9.0, 0.0, -4.0], ("normal", 3)),
    ],
)
def test_selection_rule_across_families(elpd_diff: list[float], expected: Any) -> None:
    keys = [("normal", 2), ("normal", 3), ("student_t", 2)]
    index = pd.MultiIndex.from_tuples(keys, names=["family", "n_components"])
    frame = {"elpd_diff": elpd_diff, "dse": [2.0, 0.0, 2.0], "eligible": [True] * 3}
    table = pd.DataFrame({**frame, "n_parameters": [5, 8, 7]}, index)
    assert _select(table) == expected


def test_high_pareto_k_is_counted_and_warned() -> None:
    # One outlier under a one-component posterior: its importance weights are heavy-tailed.
    y = np.r_[np.random.default_rng(1).normal(0.0, 1.0, 100), 9.0]
    w, m, s = iid_posterior(np.random.default_rng(0), [1.0], [0.1], [1.2], 2, 1000, 0.08)
    res = fake_result(y, w, m, s)
    with pytest.warns(bm.LOOWarning, match=r"^K=1: 1 observation\(s\) have Pareto k > 0.7"):
        cmp = bm.Comparison.from_fits({1: res}, moment_match=False)
    assert cmp.table.loc[1, "n_high_pareto_k"] == 1
    # A posterior without the sampled variables cannot be moment matched: said, not hidden.
    with pytest.warns(bm.LOOWarning):
        cmp = bm.Comparison.from_fits({1: res})
    assert "moment matching failed" in cmp.table.loc[1, "problems"]


def test_a_fit_psis_loo_cannot_score_is_flagged_not_fatal(three_y: np.ndarray) -> None:
    t, rng = THREE_TRUTH, np.random.default_rng(0)
    good = fake_result(three_y, *iid_posterior(rng, t["weights"], t["mu"], t["sigma"], 2, 1000))
    w, m, s = iid_posterior(rng, [0.3, 0.7], [-4.0, 1.5], [1.0, 2.6], 2, 1000)
    w[1], m[1], s[1] = w[1, 0], m[1, 0], s[1, 0]  # chain 1 stuck at one point,
    stay = np.repeat(np.arange(5), 200)  # chain 0 at five: as NUTS did with tune=5
    w[0], m[0], s[0] = w[0, stay], m[0, stay], s[0, stay]
    with pytest.warns(bm.LOOWarning, match="^K=2: PSIS-LOO failed"):
        with pytest.warns(bm.ConvergenceWarning, match="^K=2"):
            cmp = bm.Comparison.from_fits({2: fake_result(three_y, w, m, s), 3: good})
    assert cmp.best_k == 3 and list(cmp.elpd) == [3]
    assert cmp.table.loc[2, ["elpd_loo", "elpd_diff", "weight"]].isna().all()
    assert cmp.table["n_high_pareto_k"].isna().tolist() == [True, False]
    with pytest.raises(ValueError, match="no fit could be scored"):
        bm.Comparison.from_fits({2: fake_result(three_y, w, m, s)})


def test_a_k_the_sampler_fails_on_is_left_out(
    three_y: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    t, rng = THREE_TRUTH, np.random.default_rng(0)
    good = fake_result(three_y, *iid_posterior(rng, t["weights"], t["mu"], t["sigma"], 2, 1000))

    def fake_fit(y: np.ndarray, k: int, **options: Any) -> bm.MixtureResult:
        warnings.warn("passed on unchanged", RuntimeWarning, stacklevel=1)
        if k != 3:
            raise bm.SamplingError("the nutpie sampler failed: boom")
        return good

    monkeypatch.setattr(compare_module, "fit_components", fake_fit)
    cmp, caught, err = run_compare(three_y, [2, 3], random_seed=1)
    messages = [str(w.message) for w in caught]
    assert messages.count("passed on unchanged") == 2
    assert any(m.startswith("K=2: the nutpie sampler failed: boom;") for m in messages)
    assert list(cmp.fits) == [3] and cmp.best_k == 3
    assert "K=2 (1/2) sampling FAILED" in err and "K=3 (2/2) converged" in err
    with pytest.raises(bm.SamplingError, match=r"every fit \(K in \[1, 2\]\)"), recorded():
        bm.compare(three_y, [1, 2], progressbar=False)


def test_invalid_input_is_rejected_before_fitting(three_y: np.ndarray) -> None:
    with pytest.raises(ValueError, match="empty"):
        bm.compare(three_y, [])
    with pytest.raises(ValueError, match="duplicates"):
        bm.compare(three_y, [1, 2, 2])
    with pytest.raises(TypeError, match="sequence of integers"):
        bm.compare(three_y, 3)
    with pytest.raises(ValueError, match="only 3 observations"):
        bm.compare([1.0, 2.0, 3.5], [1, 4])
    with pytest.raises(ValueError, match="empty"):
        bm.Comparison.from_fits({})


def test_from_fits_checks_keys_and_data(three_y: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    t = THREE_TRUTH
    res = fake_result(three_y, *iid_posterior(rng, t["weights"], t["mu"], t["sigma"]))
    with pytest.raises(ValueError, match=r"fits\[2\] is the fit of 3; key each fit by 3"):
        bm.Comparison.from_fits({2: res})
    other = fake_result(three_y + 1.0, *iid_posterior(rng, [1.0], [0.0], [3.0]))
    with pytest.raises(ValueError, match="different data"):
        bm.Comparison.from_fits({3: res, 1: other})


def test_fit_auto_returns_the_selected_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class Fake:
        best = "the selected fit"

    def fake_compare(data: Any, n_components: Any, **options: Any) -> Fake:
        calls.append((n_components, options))
        return Fake()

    monkeypatch.setattr(sys.modules["bayesmix.sampling.fitting"], "compare", fake_compare)
    assert bm.fit([1.0, 2.0, 3.0], "auto", draws=10, random_seed=4) == "the selected fit"
    ((ks, options),) = calls
    assert list(ks) == [1, 2, 3]  # K <= n = 3 of the candidates
    assert list(AUTO_COMPONENTS) == [1, 2, 3, 4, 5, 6]
    assert options["draws"] == 10 and options["random_seed"] == 4 and options["chains"] == 4


# -- slow: full size ----------------------------------------------------------------------
@pytest.mark.slow
def test_default_candidates_select_three(three_y: np.ndarray) -> None:
    cmp, _, _ = run_compare(three_y, random_seed=3, progressbar=False)
    assert list(cmp.table.index) == [1, 2, 3, 4, 5, 6]
    assert cmp.best_k == 3, cmp
