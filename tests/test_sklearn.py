"""The scikit-learn interface: sklearn's estimator checks, Pipeline, GridSearchCV, and
agreement with the MixtureResult it wraps.

NUTS fits are the cost here (~5-10 s each, mostly graph compilation), so the fast tests
share one GridSearchCV run (5 fits) and add two more fits; sklearn's checks that need many
fits on one-feature data are marked slow.
"""

from __future__ import annotations

import functools
import inspect
import pickle
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm

pytest.importorskip("sklearn")  # the optional extra bayesmix[sklearn]

from scipy import sparse  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import estimator_checks, get_tags  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    estimator_checks_generator,
    parametrize_with_checks,
)

from bayesmix.sklearn import BayesianMixture  # noqa: E402

#: Small, fast sampler settings: PyMC's own NUTS on one core compiles fastest and needs no
#: worker processes. 2 x 100 draws always fail the ESS >= 400 check, so the tests that fit
#: ignore bayesmix.ConvergenceWarning; convergence itself is tested in test_fit.py.
FAST: dict[str, Any] = {
    "draws": 100,
    "tune": 100,
    "chains": 2,
    "cores": 1,
    "sampler": "pymc",
    "progressbar": False,
}
TRUTH = {"weights": [0.4, 0.6], "means": [0.0, 6.0], "sigmas": [1.0, 1.0]}

#: sklearn's checks that fail, and why. Every one of the multi-feature ones fails at
#: fit with "X has k features (shape=...), but BayesianMixture is univariate and needs
#: exactly 1 feature": sklearn has no tag for "exactly one feature", so its checks feed
#: X with 2 to 10 columns. test_sklearn_check_on_one_feature (slow) re-runs them on the
#: first column only, where all but one pass.
_MULTI_FEATURE = "bayesmix is univariate: the check fits X with {} features, which fit rejects"
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_fit_score_takes_y": _MULTI_FEATURE.format(3),
    "check_estimators_overwrite_params": _MULTI_FEATURE.format(2),
    "check_dont_overwrite_parameters": _MULTI_FEATURE.format(3),
    "check_estimators_fit_returns_self": _MULTI_FEATURE.format(2),
    "check_readonly_memmap_input": _MULTI_FEATURE.format(2),
    "check_n_features_in_after_fitting": _MULTI_FEATURE.format(4)
    + "; with one feature it still fails, as it predicts on X[:, [1]], a second column",
    "check_positive_only_tag_during_fit": _MULTI_FEATURE.format(4),
    "check_estimators_dtypes": _MULTI_FEATURE.format(5),
    "check_dtype_object": _MULTI_FEATURE.format(10),
    "check_pipeline_consistency": _MULTI_FEATURE.format(2),
    "check_estimators_nan_inf": _MULTI_FEATURE.format(3) + " (NaN and inf are rejected)",
    "check_estimators_pickle": _MULTI_FEATURE.format(2),
    "check_f_contiguous_array_estimator": _MULTI_FEATURE.format(3),
    "check_methods_sample_order_invariance": _MULTI_FEATURE.format(3),
    "check_methods_subset_invariance": _MULTI_FEATURE.format(3),
    "check_dict_unchanged": _MULTI_FEATURE.format(3),
    "check_fit_idempotent": _MULTI_FEATURE.format(2),
    "check_fit_check_is_fitted": _MULTI_FEATURE.format(2),
    "check_n_features_in": _MULTI_FEATURE.format(2),
    "check_fit2d_predict1d": _MULTI_FEATURE.format(3),
}
#: Of those, the checks that fail on one feature too (see the reasons above).
FAIL_ON_ONE_FEATURE = {"check_n_features_in_after_fitting"}


def _check_estimator() -> BayesianMixture:
    """The configuration sklearn's checks run on: seeded (the checks' set_random_state
    sets only ``random_state``), and as small as NUTS allows."""
    return BayesianMixture(random_seed=0, **FAST)


def _expected_failed_checks(estimator: BayesianMixture) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS


#: Strict: a check that starts to pass must leave the list above (sklearn >= 1.8).
_STRICT = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


# -- scikit-learn's estimator checks ------------------------------------------------------
# Fits on the checks' tiny data (10-30 points, 2 x 100 draws) always fail the ESS check,
# and pyproject turns warnings into errors; the checks test the API, not convergence.
@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")
@parametrize_with_checks(
    [_check_estimator()],
    expected_failed_checks=_expected_failed_checks,
    **_STRICT,
)
def test_sklearn_estimator_checks(estimator: BayesianMixture, check: Any) -> None:
    check(estimator)


def _one_feature_checks() -> Iterator[Any]:
    for _, check in estimator_checks_generator(_check_estimator(), legacy=True, mark=None):
        name = check.func.__name__
        if name in EXPECTED_FAILED_CHECKS and name not in FAIL_ON_ONE_FEATURE:
            options = ",".join(f"{k}={v}" for k, v in check.keywords.items())
            yield pytest.param(check, id=name + (f"({options})" if options else ""))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")
@pytest.mark.parametrize("check", list(_one_feature_checks()))
def test_sklearn_check_on_one_feature(check: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks that xfail above for their multi-feature data, on its first column.

    Slow: together they run ~30 NUTS fits. The data reach the estimator through sklearn's
    private ``_enforce_estimator_tags_X`` (which adapts data to the estimator's tags), so
    we wrap it to keep the first column; if sklearn renames it this test fails loudly.
    """
    original = estimator_checks._enforce_estimator_tags_X

    @functools.wraps(original)
    def first_column(estimator: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(estimator, X, *args, **kwargs)
        return tuple(a[:, :1] for a in out) if isinstance(out, tuple) else out[:, :1]

    monkeypatch.setattr(estimator_checks, "_enforce_estimator_tags_X", first_column)
    check(_check_estimator())


def test_tags() -> None:
    tags = get_tags(BayesianMixture())
    assert tags.estimator_type == "density_estimator"
    assert tags.input_tags.two_d_array and not tags.input_tags.one_d_array
    assert not tags.input_tags.sparse and not tags.input_tags.allow_nan
    assert not tags.target_tags.required
    assert not tags.non_deterministic and tags.requires_fit


# -- shared fits ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Two well separated components, as X of shape (n, 1), and the true labels."""
    t = TRUTH
    y, labels = bm.simulate_mixture(
        200, t["weights"], t["means"], t["sigmas"], random_seed=11, return_labels=True
    )
    return y.reshape(-1, 1), labels


@pytest.fixture(scope="module")
def search(data: tuple[np.ndarray, np.ndarray]) -> GridSearchCV:
    """StandardScaler + BayesianMixture, K in {1, 2} by 2-fold CV: 4 fits and a refit.

    ``random_seed=None``: each fit draws its own seed and records it.
    """
    X, _ = data
    pipe = make_pipeline(StandardScaler(), BayesianMixture(**FAST))
    grid = GridSearchCV(
        pipe,
        {"bayesianmixture__n_components": [1, 2]},
        cv=KFold(2, shuffle=True, random_state=0),
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)  # see FAST
        return grid.fit(X)


@pytest.fixture(scope="module")
def pipe(search: GridSearchCV) -> Pipeline:
    best: Pipeline = search.best_estimator_
    return best


@pytest.fixture(scope="module")
def est(pipe: Pipeline) -> BayesianMixture:
    """The refitted BayesianMixture (K = 2), fitted on the standardised data."""
    last: BayesianMixture = pipe[-1]
    return last


@pytest.fixture(scope="module")
def Z(pipe: Pipeline, data: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The standardised data ``est`` was fitted on."""
    scaled: np.ndarray = pipe[:-1].transform(data[0])
    return scaled


# -- Pipeline and GridSearchCV --------------------------------------------------------
def test_grid_search_picks_two_components(search: GridSearchCV) -> None:
    assert search.best_params_ == {"bayesianmixture__n_components": 2}
    scores = dict(
        zip(
            search.cv_results_["param_bayesianmixture__n_components"],
            search.cv_results_["mean_test_score"],
            strict=True,
        )
    )
    # Held-out mean log density: two separated normals beat one by a wide margin.
    assert scores[2] > scores[1] + 0.1
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_pipeline_delegates_to_the_mixture(
    pipe: Pipeline, est: BayesianMixture, Z: np.ndarray, data: tuple[np.ndarray, np.ndarray]
) -> None:
    X, labels = data
    np.testing.assert_array_equal(pipe.predict(X), est.predict(Z))
    np.testing.assert_allclose(pipe.predict_proba(X), est.predict_proba(Z))
    np.testing.assert_allclose(pipe.score_samples(X), est.score_samples(Z))
    assert pipe.score(X) == pytest.approx(est.score(Z))
    # Labels are ordered by component mean, so they match the truth's order directly.
    assert np.mean(pipe.predict(X) == labels) > 0.97


def test_fitted_attributes(pipe: Pipeline, est: BayesianMixture) -> None:
    assert est.n_features_in_ == 1
    assert est.weights_.shape == (2,) and est.weights_.sum() == pytest.approx(1.0)
    assert est.means_.shape == (2, 1) and est.sigmas_.shape == (2, 1)
    assert est.means_[0, 0] < est.means_[1, 0]
    assert np.all(est.sigmas_ > 0)
    assert isinstance(est.converged_, bool)
    assert est.converged_ == est.result_.converged
    assert isinstance(est.result_, bm.MixtureResult)
    assert est.result_.n_components == 2
    # Posterior means equal the result's components table; on the data's scale (undo the
    # scaler) they recover the truth.
    table = est.result_.components
    np.testing.assert_allclose(est.weights_, table["weight"])
    np.testing.assert_allclose(est.means_[:, 0], table["mean"])
    np.testing.assert_allclose(est.sigmas_[:, 0], table["sigma"])
    scaler: StandardScaler = pipe[0]
    means = scaler.inverse_transform(est.means_)[:, 0]
    np.testing.assert_allclose(means, TRUTH["means"], atol=0.4)
    np.testing.assert_allclose(est.weights_, TRUTH["weights"], atol=0.1)


# -- agreement with the MixtureResult ------------------------------------------------------
def test_methods_agree_with_result(est: BayesianMixture, Z: np.ndarray) -> None:
    x = Z[:, 0]
    proba = est.predict_proba(Z)
    assert proba.shape == (Z.shape[0], 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba, est.result_.predict_proba(x))
    np.testing.assert_array_equal(est.predict(Z), est.result_.predict(x))
    np.testing.assert_array_equal(est.predict(Z), proba.argmax(axis=1))
    np.testing.assert_array_equal(est.score_samples(Z), est.result_.score_samples(x))
    np.testing.assert_allclose(np.exp(est.score_samples(Z)), est.result_.pdf(x))
    assert est.score(Z) == pytest.approx(np.mean(est.result_.score_samples(x)))
    assert isinstance(est.score(Z), float)


def test_methods_invariant_to_order_and_batching(est: BayesianMixture, Z: np.ndarray) -> None:
    # What sklearn's check_methods_sample_order_invariance / _subset_invariance test.
    idx = np.random.default_rng(0).permutation(Z.shape[0])
    for method in (est.predict, est.predict_proba, est.score_samples):
        full = method(Z)
        np.testing.assert_allclose(full[idx], method(Z[idx]), atol=1e-9)
        rows = np.concatenate([np.atleast_1d(method(Z[i : i + 1])) for i in range(5)])
        np.testing.assert_allclose(full[:5].ravel(), rows.ravel(), atol=1e-9)


def test_predict_accepts_other_dtypes_and_layouts(est: BayesianMixture, Z: np.ndarray) -> None:
    expected = est.score_samples(Z[:10])
    np.testing.assert_allclose(est.score_samples(Z[:10].astype(np.float32)), expected, rtol=1e-5)
    np.testing.assert_allclose(est.score_samples(np.asfortranarray(Z[:10])), expected)
    np.testing.assert_allclose(est.score_samples(Z[:10].tolist()), expected)
    np.testing.assert_array_equal(est.predict(np.array([[-5], [5]], dtype=np.int64)), [0, 1])


def test_predict_does_not_change_the_estimator(est: BayesianMixture, Z: np.ndarray) -> None:
    before = dict(vars(est))
    for method in (est.predict, est.predict_proba, est.score_samples, est.score):
        method(Z)
    est.sample(3, random_seed=0)
    assert vars(est) == before


# -- sample ---------------------------------------------------------------------------
def test_sample_like_gaussian_mixture(est: BayesianMixture) -> None:
    X, labels = est.sample(500, random_seed=3)
    assert X.shape == (500, 1) and labels.shape == (500,)
    assert set(np.unique(labels)) <= {0, 1}
    # Same random stream as MixtureResult.sample: the values agree exactly.
    np.testing.assert_array_equal(X[:, 0], est.result_.sample(500, random_seed=3))
    # Each sample lies near the component it is labelled with (components ~7 sd apart).
    centre = est.means_[labels, 0]
    assert np.mean(np.abs(X[:, 0] - centre) < 4 * est.sigmas_[labels, 0]) > 0.99
    np.testing.assert_allclose(np.bincount(labels) / 500, est.weights_, atol=0.07)
    # Seeded: reproducible; est.random_seed is None, so unseeded calls differ.
    np.testing.assert_array_equal(est.sample(500, random_seed=3)[0], X)
    assert est.random_seed is None
    assert not np.array_equal(est.sample(20)[0], est.sample(20)[0])
    # With an integer random_seed every call returns the same samples, as GaussianMixture
    # does with an integer random_state.
    seeded = pickle.loads(pickle.dumps(est)).set_params(random_seed=5)
    np.testing.assert_array_equal(seeded.sample(20)[0], seeded.sample(20)[0])


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_sample_rejects_bad_n(est: BayesianMixture, n: Any) -> None:
    with pytest.raises(ValueError, match="n_samples=.* must be a positive integer"):
        est.sample(n)


# -- pickling -------------------------------------------------------------------------
def test_pickle_round_trip(pipe: Pipeline, est: BayesianMixture, Z: np.ndarray) -> None:
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(Z), est.predict_proba(Z))
    np.testing.assert_array_equal(copy.score_samples(Z), est.score_samples(Z))
    np.testing.assert_array_equal(copy.means_, est.means_)
    assert copy.get_params() == est.get_params()
    # The PyMC model cannot be pickled; the copy rebuilds it from the DataTree.
    assert {rv.name for rv in copy.result_.model.free_RVs} == {"weights", "mu_z", "sigma_z"}
    assert est.result_.model is not None  # pickling did not strip the original
    pipe_copy = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(pipe_copy.predict(Z), pipe.predict(Z))


def test_failed_refit_leaves_the_fit_intact(est: BayesianMixture, Z: np.ndarray) -> None:
    copy = pickle.loads(pickle.dumps(est))
    with pytest.raises(ValueError, match="univariate"):
        copy.fit(np.ones((10, 3)))
    assert copy.n_features_in_ == 1
    np.testing.assert_array_equal(copy.predict(Z), est.predict(Z))


# -- reproducibility ------------------------------------------------------------------
def test_unseeded_fit_is_reproducible_from_its_record(est: BayesianMixture, Z: np.ndarray) -> None:
    """random_seed=None draws a seed and records it; refitting with it gives the same
    draws exactly (this is also sklearn's check_fit_idempotent, on one feature). The
    refit takes a one-column DataFrame, so feature names are checked too."""
    seed = est.random_seed_
    assert est.random_seed is None
    assert seed == est.result_.sampler_settings["random_seed"]
    frame = pd.DataFrame({"waiting": Z[:, 0]})
    refit = clone(est).set_params(random_seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)  # see FAST
        assert refit.fit(frame) is refit
    assert refit.random_seed_ == seed
    attrs = est.result_.idata.attrs
    assert refit.result_.idata.attrs["bayesmix_data_sha256"] == attrs["bayesmix_data_sha256"]
    for name in ("weights", "mu", "sigma"):
        np.testing.assert_array_equal(
            refit.result_.idata["posterior"][name].values,
            est.result_.idata["posterior"][name].values,
        )
    np.testing.assert_array_equal(refit.predict_proba(frame), est.predict_proba(Z))
    np.testing.assert_array_equal(refit.feature_names_in_, ["waiting"])
    with pytest.raises(ValueError, match="feature names"):
        refit.predict(pd.DataFrame({"eruptions": Z[:5, 0]}))


# -- parameters -----------------------------------------------------------------------
PARAMS = {
    "n_components": 3,
    "family": "student_t",
    "priors": bm.Priors(mu_scale=10.0),
    "draws": 200,
    "tune": 300,
    "chains": 3,
    "cores": 1,
    "target_accept": 0.95,
    "random_seed": 7,
    "sampler": "numpyro",
    "progressbar": True,
}


def test_defaults_match_bayesmix_fit() -> None:
    params = BayesianMixture().get_params()
    assert params == {
        "n_components": 2,
        "family": "normal",
        "priors": None,
        "draws": 1000,
        "tune": 1000,
        "chains": 4,
        "cores": None,
        "target_accept": 0.9,
        "random_seed": None,
        "sampler": "auto",
        "progressbar": False,
    }


def test_get_set_params_round_trip() -> None:
    est = BayesianMixture(**PARAMS)
    assert est.get_params() == PARAMS
    other = BayesianMixture()
    assert other.set_params(**est.get_params()) is other
    assert other.get_params() == PARAMS
    assert other.get_params()["priors"] is PARAMS["priors"]  # stored verbatim
    with pytest.raises(ValueError, match="Invalid parameter 'n_component'"):
        other.set_params(n_component=2)
    assert "n_components=3" in repr(est) and "sampler='numpyro'" in repr(est)


def test_clone(est: BayesianMixture) -> None:
    fresh = clone(BayesianMixture(**PARAMS))
    assert fresh.get_params() == PARAMS
    # Cloning a fitted estimator keeps the parameters and drops the fit.
    unfitted = clone(est)
    assert unfitted.get_params() == est.get_params()
    assert not hasattr(unfitted, "result_") and not hasattr(unfitted, "n_features_in_")


def test_unfitted_methods_raise_not_fitted() -> None:
    est = BayesianMixture()
    X = np.ones((3, 1))
    for call in (est.predict, est.predict_proba, est.score_samples, est.score):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call(X)
    with pytest.raises(NotFittedError):
        est.sample(2)


# -- input validation (no sampling: every error comes before NUTS) ----------------------
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.ones((10, 2)), r"X has 2 features \(shape=\(10, 2\)\), but BayesianMixture is "),
        (np.arange(10.0), r"(?s)Expected 2D array, got 1D array.*reshape\(-1, 1\)"),
        (np.ones((1, 1)), r"Found array with 1 sample\(s\) .* minimum of 2 is required"),
        (np.ones((0, 1)), r"Found array with 0 sample\(s\)"),
        (np.ones((12, 0)), r"0 feature\(s\) \(shape=\(12, 0\)\) while a minimum of 1"),
        (np.array([[1.0], [np.nan], [2.0]]), "Input X contains NaN"),
        (np.array([[1.0], [np.inf], [2.0]]), "Input X contains infinity"),
        (np.ones((5, 1)), "X is constant"),
        (np.array([[1j], [2j]]), "Complex data not supported"),
        (sparse.csr_array(np.eye(3)[:, :1]), "[Ss]parse data was passed"),
    ],
    ids=[
        "two-features",
        "1-D",
        "one-sample",
        "empty",
        "no-feature",
        "nan",
        "inf",
        "constant",
        "complex",
        "sparse",
    ],
)
def test_fit_rejects_bad_input(X: Any, match: str) -> None:
    est = BayesianMixture()
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(X)
    assert not hasattr(est, "n_features_in_") and not hasattr(est, "result_")


def test_fit_error_for_two_features_says_what_to_do() -> None:
    with pytest.raises(ValueError) as info:
        BayesianMixture().fit(np.random.default_rng(0).normal(size=(20, 2)))
    message = str(info.value)
    assert "univariate" in message and "exactly 1 feature" in message
    assert "X[:, [0]]" in message


def test_fit_rejects_bad_parameters_before_sampling() -> None:
    X = np.arange(5.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="n_components=6 but only 5 observations"):
        BayesianMixture(n_components=6).fit(X)
    with pytest.raises(ValueError, match="sampler='stan' is not one of"):
        BayesianMixture(sampler="stan").fit(X)
    with pytest.raises(ValueError, match="draws=0 must be a positive integer"):
        BayesianMixture(draws=0, **{k: v for k, v in FAST.items() if k != "draws"}).fit(X)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.ones((4, 2)), "X has 2 features, but BayesianMixture is expecting 1 features"),
        (np.ones(4), "Reshape your data"),
        (np.array([[0.0], [np.nan]]), "Input X contains NaN"),
        (np.empty((0, 1)), r"Found array with 0 sample\(s\)"),
    ],
    ids=["two-features", "1-D", "nan", "empty"],
)
def test_predict_rejects_bad_input(est: BayesianMixture, X: np.ndarray, match: str) -> None:
    for method in (est.predict, est.predict_proba, est.score_samples, est.score):
        with pytest.raises(ValueError, match=match):
            method(X)


# -- optional dependency ------------------------------------------------------------------
def test_sklearn_is_optional() -> None:
    """``import bayesmix`` does not import scikit-learn; without it, bayesmix.sklearn
    says how to install it."""
    code = textwrap.dedent(
        """
        import sys
        import bayesmix
        assert "sklearn" not in sys.modules, "import bayesmix imported sklearn"
        sys.modules["sklearn"] = None  # as if scikit-learn were not installed
        try:
            import bayesmix.sklearn
        except ImportError as err:
            print(err)
        else:
            raise AssertionError("no ImportError")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert "pip install 'bayesmix[sklearn]'" in out.stdout
