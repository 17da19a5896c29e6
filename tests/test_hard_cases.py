"""Never silently wrong: known hard cases must warn, and the report must show it."""

from __future__ import annotations

import html
import warnings
from pathlib import Path

import numpy as np
import pytest

import bayesmix as bm

OPTIONS = {"draws": 500, "tune": 500, "chains": 4, "progressbar": False, "random_seed": 3}


def fit_recording(y: np.ndarray, k: int, **options: object) -> tuple[bm.MixtureResult, list[str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = bm.fit(y, k, **{**OPTIONS, **options})  # type: ignore[arg-type]
    ours = [
        str(w.message)
        for w in record
        if issubclass(w.category, bm.ConvergenceWarning | bm.ComponentWarning)
    ]
    return res, ours


def assert_report_shows(res: bm.MixtureResult, messages: list[str], tmp_path: Path) -> None:
    page = html.unescape(res.report(tmp_path / "fit.html").read_text())
    for message in messages:
        assert message in page


CASES = {
    # Two components for data from one normal: the split is arbitrary, the posterior of
    # the weights and means is wide and multimodal.
    "overlapping": (lambda rng: rng.normal(0, 1, 300), 2, {}),
    # Four components for two clusters: surplus components are empty or duplicate.
    "k above support": (
        lambda rng: np.concatenate([rng.normal(0, 1, 150), rng.normal(8, 1, 150)]),
        4,
        {},
    ),
    # One far outlier: a component collapses onto it (a spike) or empties.
    "outlier": (lambda rng: np.append(rng.normal(0, 1, 200), 40.0), 2, {}),
    # Too few tuning steps on overlapping components.
    "too little tuning": (
        lambda rng: np.concatenate([rng.normal(0, 1, 150), rng.normal(1.5, 1, 150)]),
        2,
        {"tune": 15, "draws": 100},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_hard_case_warns_and_report_shows_it(case: str, tmp_path: Path) -> None:
    make, k, options = CASES[case]
    y = make(np.random.default_rng(11))
    res, messages = fit_recording(y, k, **options)
    assert messages, f"{case}: no warning"
    assert not res.converged or res.diagnostics.component_issues
    assert_report_shows(res, messages, tmp_path)
