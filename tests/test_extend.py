"""Sampling extended to the ESS target, and compare's rule for fits short of ESS only.

Real NUTS on the bundled Old Faithful waiting times (K = 2 is the truth every method
agrees on). At 100 draws per chain the smallest ESS is ~215 of 400, so the default fit
must continue its chains; the budget and "no extension" cases are checked against it.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
from helpers import fake_result, iid_posterior

import bayesmix as bm
from bayesmix.diagnostics.checks import EXTENSION_ATTR
from bayesmix.report import beyond
from bayesmix.report.reproduce import reproduce_code
from bayesmix.sampling.extend import extend_to_target
from bayesmix.sampling.settings import SamplerSettings

SHORT = {"draws": 100, "tune": 1000, "random_seed": 1, "progressbar": False}


@pytest.fixture(scope="module")
def waiting() -> np.ndarray:
    return np.asarray(bm.datasets.load("faithful")["waiting"], dtype=np.float64)


@pytest.fixture(scope="module")
def extended(waiting: np.ndarray) -> bm.MixtureResult:
    return bm.fit(waiting, 2, **SHORT)


def test_a_short_fit_is_continued_to_the_target_and_says_so(
    waiting: np.ndarray, extended: bm.MixtureResult
) -> None:
    record = json.loads(extended.idata.attrs[EXTENSION_ATTR])
    reached = extended.idata["posterior"].sizes["draw"]
    assert record["draws_asked"] == 100 and record["draws_reached"] == reached > 100
    assert record["stopped"] == "target met" and record["rounds"][0]["min_ess_before"] < 400
    assert extended.converged and extended.diagnostics.min_ess >= 400
    assert extended.sampler_settings["draws"] == reached
    # the chains are continued, not replaced: the first 100 draws are the short fit's
    with pytest.warns(bm.ConvergenceWarning):  # as the extension found it: too short
        short = bm.fit(waiting, 2, **{**SHORT, "ess_target": None})
    assert not short.converged and short.diagnostics.min_ess < 400
    for name in ("weights", "mu", "sigma"):
        np.testing.assert_array_equal(
            extended.idata["posterior"][name].values[:, :100],
            short.idata["posterior"][name].values,
        )
    # the report says what was done; its script reproduces the fit with nothing to extend
    (text,) = beyond.extension_text(extended)
    assert f"continued to {reached} draws" in text.text and "target met" in text.text
    assert "ess_target=None" in reproduce_code(extended)


def test_the_budget_stops_the_extension_and_the_warning_names_it(waiting: np.ndarray) -> None:
    with pytest.warns(bm.ConvergenceWarning) as caught:
        res = bm.fit(waiting, 2, **{**SHORT, "max_draws": 4 * 150})
    record = json.loads(res.idata.attrs[EXTENSION_ATTR])
    assert record["stopped"] == "budget max_draws=600 reached"
    assert res.idata["posterior"].sizes["draw"] == 150
    messages = " ".join(str(w.message) for w in caught)
    assert "sampling was already extended to 600 draws" in messages
    assert "raise max_draws (e.g. max_draws=1200)" in messages


def test_chains_that_disagree_are_not_extended() -> None:
    """A fit whose chains sit in different places fails r_hat badly: more draws won't help."""
    rng = np.random.default_rng(0)
    y = bm.simulate_mixture(200, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], random_seed=0)
    w, m, s = iid_posterior(rng, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], draws=50)
    m[0] += 1.0  # chain 0 elsewhere
    bad = fake_result(y, w, m, s)
    assert "r_hat" in bad.diagnostics.failed and bad.diagnostics.min_ess < 400
    settings = SamplerSettings(50, 50, 4, 0.9, 1, "nutpie")

    def refit(draws: int) -> bm.MixtureResult:
        raise AssertionError("must not refit")

    assert extend_to_target(bad, refit, settings, 400, 10_000) is bad


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"ess_target": -1}, r"ess_target=-1: give a positive number, or None"),
        ({"max_draws": 0}, r"max_draws=0: give a positive whole number"),
        ({"max_time": "soon"}, r"max_time='soon': give a positive number of seconds"),
    ],
)
def test_bad_targets_and_budgets_fail_before_sampling(option: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bm.fit([1.0, 2.0, 3.0, 4.0], 2, **option)


def test_compare_selects_two_on_old_faithful_with_the_extension_recorded(
    waiting: np.ndarray,
) -> None:
    """The default draws made short (100 per chain): K = 2 is extended, not dismissed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # K = 3's problems: it is not the point here
        cmp = bm.compare(waiting, [1, 2, 3], **SHORT)
    assert cmp.best_k == 2, cmp
    row = cmp.table.loc[2]
    assert row["extended"] and row["draws"] > 100 and row["converged"] and row["eligible"]


def test_a_fit_short_of_ess_only_stays_eligible_flagged(
    waiting: np.ndarray, extended: bm.MixtureResult
) -> None:
    """The rule, on real fits with their verdict replaced: ESS-only is eligible, r_hat not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)
        one = bm.fit(waiting, 1, **SHORT)
    d = extended.diagnostics
    ess_only = dataclasses.replace(d, problems=("effective sample size < 400 ...",),
                                   failed=("ess",))  # fmt: skip
    short = bm.MixtureResult(extended.idata, diagnostics=ess_only)
    with pytest.warns(bm.ConvergenceWarning, match="short of ESS only, so it stays eligible"):
        cmp = bm.Comparison.from_fits({1: one, 2: short})
    assert cmp.best_k == 2 and not cmp.table.loc[2, "converged"] and cmp.table.loc[2, "eligible"]
    assert "short of ESS only" in repr(cmp)
    disagree = dataclasses.replace(d, problems=("r_hat > 1.01 ...",), failed=("r_hat",))
    with pytest.warns(bm.ConvergenceWarning, match="never selected"):
        cmp = bm.Comparison.from_fits(
            {1: one, 2: bm.MixtureResult(extended.idata, diagnostics=disagree)}
        )
    assert cmp.best_k == 1 and not cmp.table.loc[2, "eligible"]
