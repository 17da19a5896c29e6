"""The Student-t family through every public path: fit, recovery, results, files, CLI."""

from __future__ import annotations

import contextlib
import io
import pathlib
import warnings

import numpy as np
import pytest
from conftest import FAST
from helpers import fake_result, iid_posterior
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


@pytest.fixture(scope="module")
def across(t_y: np.ndarray) -> tuple[bm.Comparison, str, list[str]]:
    """compare() over both families at K = 2 on heavy-tailed (nu = 4) data."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        options = {**FAST, "progressbar": True}  # compare's own lines; samplers' stay off
        cmp = bm.compare(t_y, [2], family=["normal", "student_t"], random_seed=2, **options)
    messages = [str(w.message) for w in caught]
    return cmp, err.getvalue(), messages


def test_compare_across_families_selects_student_t(
    across: tuple[bm.Comparison, str, list[str]], t_fit: bm.MixtureResult
) -> None:
    cmp, progress, messages = across
    t = cmp.table
    assert list(t.index) == [("normal", 2), ("student_t", 2)] and t.index.names == [
        "family",
        "n_components",
    ]
    assert t["n_parameters"].tolist() == [5, 7]
    # nu = 4 tails: two normal components mix slowly on them (short of ESS at 1000
    # draws, so their chains are continued to the target) and predict clearly worse
    normal = t.loc[("normal", 2)]
    assert normal["elpd_diff"] < -2 * normal["dse"], t
    assert normal["extended"] and normal["draws"] > 1000 and normal["converged"], t
    assert t.loc[("student_t", 2), "converged"]
    assert (cmp.best_family, cmp.best_k) == ("student_t", 2)
    assert cmp.best is cmp.fits[("student_t", 2)]
    # the same seed and options as bm.fit: the same draws as the module's fit
    draws, same = cmp.best.idata["posterior"].to_dataset(), t_fit.idata["posterior"].to_dataset()
    assert draws.drop_attrs().identical(same.drop_attrs())  # attrs: the sampling time
    assert "across normal, student_t" in repr(cmp) and "selected student_t K=2" in repr(cmp)
    assert "normal K=2 (1/2)" in progress and "student_t K=2 (2/2)" in progress
    ax = cmp.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert "student_t, converged" in labels and "selected student_t K=2" in labels


def test_from_fits_keys_across_families(t_fit: bm.MixtureResult, t_y: np.ndarray) -> None:
    normal = bm.MixtureResult(t_fit.idata)  # stand-in: keys are checked before scoring
    with pytest.raises(ValueError, match=r"is the fit of \('student_t', 2\)"):
        bm.Comparison.from_fits({("normal", 2): normal})
    with pytest.raises(ValueError, match=r"is the fit of 2; key each fit by 2"):
        bm.Comparison.from_fits({3: t_fit})
    w, m, s = iid_posterior(np.random.default_rng(0), [1.0], [2.4], [3.0])
    with pytest.raises(ValueError, match=r"hold the families \['normal', 'student_t'\]; key"):
        bm.Comparison.from_fits({2: t_fit, 1: fake_result(t_y, w, m, s)})
    with pytest.raises(ValueError, match=r"family=\['normal', 'normal'\] holds duplicates"):
        bm.compare(t_y, [2], family=["normal", "normal"])
    with pytest.raises(ValueError, match=r"family='gamma' is not one of"):
        bm.compare(t_y, [2], family="gamma")
