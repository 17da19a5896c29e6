"""The Student-t family through every public path: fit, recovery, results, files, CLI."""

from __future__ import annotations

import contextlib
import io
import pathlib

import numpy as np
import pytest
from conftest import FAST
from scipy import integrate

import bayesmix as bm
from bayesmix.cli import commands as cli

TRUTH = {"weights": [0.6, 0.4], "mu": [0.0, 6.0], "sigma": [1.0, 1.5], "nu": [4.0, 4.0]}


@pytest.fixture(scope="module")
def t_y() -> np.ndarray:
    t = TRUTH
    return bm.simulate_mixture(
        800, t["weights"], t["mu"], t["sigma"], random_seed=11, family="student_t", nu=t["nu"]
    )


@pytest.fixture(scope="module")
def t_fit(t_y: np.ndarray) -> bm.MixtureResult:
    return bm.fit(t_y, 2, family="student_t", random_seed=2, **FAST)


def test_student_t_fit_recovers_the_truth(t_fit: bm.MixtureResult) -> None:
    assert t_fit.converged
    # Eight intervals checked together: Bonferroni's 1 - 0.05 / 8 each keeps the chance
    # that a calibrated posterior misses any of them at 5% (at 94% each it is 39%).
    table = t_fit.components_table(ci_prob=1 - 0.05 / 8)
    for label, name in (("weight", "weights"), ("mean", "mu"), ("sigma", "sigma"), ("nu", "nu")):
        lower, upper = table[f"{label}_lower"], table[f"{label}_upper"]
        truth = np.asarray(TRUTH[name])
        assert ((lower <= truth) & (truth <= upper)).all(), (label, table)
    assert list(t_fit.summary().index)[-2:] == ["nu[0]", "nu[1]"]


def test_student_t_densities_and_memberships(t_fit: bm.MixtureResult) -> None:
    total, _ = integrate.quad(lambda v: float(t_fit.pdf([v])[0]), -60, 60, limit=200)
    assert total == pytest.approx(1.0, abs=2e-3)  # heavy tails: a little mass past +-60
    band = t_fit.density(ci_prob=0.9)
    assert (band["lower"] <= band["mean"]).all() and (band["mean"] <= band["upper"]).all()
    proba = t_fit.predict_proba()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert t_fit.sample(5, random_seed=0).shape == (5,)
    assert "Student-t mixture" in repr(t_fit)


def test_student_t_save_load_and_report(t_fit: bm.MixtureResult, tmp_path: pathlib.Path) -> None:
    path = t_fit.save(tmp_path / "t.nc")
    back = bm.load(path)
    assert back.spec == t_fit.spec and back.family.name == "student_t"
    np.testing.assert_array_equal(back.components.to_numpy(), t_fit.components.to_numpy())
    np.testing.assert_array_equal(back.pdf([0.0, 3.0]), t_fit.pdf([0.0, 3.0]))
    html = t_fit.report(tmp_path / "t.html").read_text()
    assert "StudentT(&mu;<sub>k</sub>, &sigma;<sub>k</sub>, &nu;<sub>k</sub>)" in html
    assert "Gamma(shape 2, rate 0.1)" in html and "student_t" in html


def test_cli_family_option(t_y: np.ndarray, tmp_path: pathlib.Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("value\n" + "\n".join(repr(float(v)) for v in t_y[:200]) + "\n")
    args = ["fit", str(data), "-k", "2", "--family", "student_t", "--seed", "1",
            "--draws", "100", "--tune", "100", "--chains", "2", "--no-progressbar",
            "--out", str(tmp_path / "t.nc")]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(args)
    assert code == 0
    assert bm.load(tmp_path / "t.nc").spec.family == "student_t"
