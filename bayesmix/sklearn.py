"""scikit-learn interface: :class:`BayesianMixture`, a density estimator over :func:`bayesmix.fit`.

This is the only module that imports scikit-learn; ``import bayesmix`` does not. Install
the optional extra with ``pip install 'bayesmix[sklearn]'`` and import it explicitly::

    from bayesmix.sklearn import BayesianMixture

Conventions, as in scikit-learn's own density estimators (``GaussianMixture``,
``KernelDensity``): ``X`` is a 2-D array of shape ``(n_samples, 1)``, one feature; a 1-D
array is rejected with scikit-learn's "Reshape your data" message (use
``y.reshape(-1, 1)``), and so is ``X`` with more than one feature, since bayesmix fits
univariate mixtures. ``y`` is ignored everywhere. ``score`` is the mean log posterior
predictive density, so ``GridSearchCV`` over ``n_components`` picks the number of components
that best predicts held-out data.
"""

from __future__ import annotations

import numbers
from typing import Any, Self

import numpy as np

try:
    from sklearn.base import BaseEstimator, DensityMixin
    from sklearn.utils import Tags
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "bayesmix.sklearn needs scikit-learn, which is not installed; install it with "
        "`pip install 'bayesmix[sklearn]'`"
    ) from err

from bayesmix.data.validate import as_observations
from bayesmix.model.spec import FamilyName, Priors
from bayesmix.posterior.density import sample_components
from bayesmix.result import MixtureResult
from bayesmix.sampling import Sampler, fit

__all__ = ["BayesianMixture"]

#: check_array options shared by fit and the prediction methods. ``ensure_min_samples=2``:
#: one observation has no spread, so a mixture cannot be fitted to it.
_CHECK_FIT: dict[str, Any] = {
    "dtype": np.float64,
    "ensure_2d": True,
    "ensure_all_finite": True,
    "accept_sparse": False,
    "ensure_min_samples": 2,
}
_CHECK_PREDICT: dict[str, Any] = {**_CHECK_FIT, "ensure_min_samples": 1}


class BayesianMixture(DensityMixin, BaseEstimator):
    """Bayesian finite mixture (normal or Student-t) as a scikit-learn density estimator.

    A thin wrapper over :func:`bayesmix.fit`: ``fit`` samples the posterior by NUTS and
    keeps the :class:`~bayesmix.MixtureResult` in ``result_``; densities, memberships and
    samples average over the posterior draws rather than plugging in point estimates.
    Works in a :class:`~sklearn.pipeline.Pipeline` and in
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    n_components : int, default 2
        Number of mixture components K; at most the number of samples.
    family : {"normal", "student_t"}, default "normal"
        Component family, as in :func:`bayesmix.fit`.
    priors : Priors or dict, optional
        Prior overrides; anything left unset is scaled to the data (see
        :class:`~bayesmix.Priors`).
    draws, tune : int, default 1000
        Post-tuning draws and tuning steps per chain.
    chains : int, default 4
        Number of chains; at least 2 are needed to check convergence.
    cores : int, optional
        Cores to run chains on in parallel (default: one per chain, up to the CPUs). Set
        ``cores=1`` when an outer loop, e.g. ``GridSearchCV(n_jobs=...)``, is parallel.
    target_accept : float, default 0.9
        NUTS target acceptance rate; raise it (e.g. 0.99) if there are divergences.
    random_seed : int, optional
        Seed for the sampler; the same seed gives the same fit. If None, a seed is drawn
        at each ``fit`` and recorded in ``random_seed_`` (and
        ``result_.sampler_settings``), so any fit can be reproduced. (PyMC's name; the
        scikit-learn helpers that set ``random_state`` leave it alone.)
    sampler : {"auto", "pymc", "nutpie", "numpyro"}, default "auto"
        NUTS implementation; "auto" uses nutpie when installed, else PyMC's own.
    progressbar : bool, default False
        Show the sampler's progress bar.

    Attributes
    ----------
    result_ : MixtureResult
        The full posterior: ``result_.summary()``, ``result_.diagnostics``,
        ``result_.plot_density()``, ``result_.idata`` (the ArviZ DataTree).
    weights_ : ndarray of shape (n_components,)
        Posterior mean of the mixture weights.
    means_ : ndarray of shape (n_components, 1)
        Posterior mean of the component means, in increasing order (the shape of
        ``GaussianMixture.means_``: one row per component, one column per feature).
    sigmas_ : ndarray of shape (n_components, 1)
        Posterior mean of the component standard deviations.
    converged_ : bool
        Whether every convergence check passed (see ``result_.diagnostics``); a failed
        check also raises a :class:`bayesmix.ConvergenceWarning` during ``fit``.
    random_seed_ : int
        The seed actually used: pass it as ``random_seed`` to reproduce the fit.
    n_features_in_ : int
        Number of features seen during ``fit``: always 1.
    feature_names_in_ : ndarray of shape (1,)
        The column name, when ``X`` was a pandas DataFrame with string column names.

    See Also
    --------
    bayesmix.fit : the same model without scikit-learn.
    sklearn.mixture.GaussianMixture : maximum-likelihood (EM) mixtures, any dimension.

    Notes
    -----
    Differences from ``GaussianMixture``: univariate only; the mixture is Bayesian
    (``score_samples`` is the log posterior predictive density, ``predict_proba`` the
    posterior mean membership probability); the fit is by MCMC, so it takes seconds,
    not milliseconds, and is reproducible only through ``random_seed`` /
    ``random_seed_``. Components are ordered by their means, so label 0 is always the
    leftmost component.

    Examples
    --------
    >>> import bayesmix as bm
    >>> from bayesmix.sklearn import BayesianMixture
    >>> y = bm.simulate_mixture(500, [0.6, 0.4], [1.0, 5.0], [1.0, 2.0], random_seed=0)
    >>> X = y.reshape(-1, 1)
    >>> est = BayesianMixture(n_components=2, random_seed=1).fit(X)  # doctest: +SKIP
    >>> est.means_.ravel()  # doctest: +SKIP
    array([1.03, 4.90])
    >>> est.predict(X[:3]), est.score(X)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        family: FamilyName = "normal",
        priors: Priors | dict[str, Any] | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        cores: int | None = None,
        target_accept: float = 0.9,
        random_seed: int | None = None,
        sampler: Sampler = "auto",
        progressbar: bool = False,
    ) -> None:
        self.n_components = n_components
        self.family = family
        self.priors = priors
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.cores = cores
        self.target_accept = target_accept
        self.random_seed = random_seed
        self.sampler = sampler
        self.progressbar = progressbar

    def __sklearn_tags__(self) -> Tags:
        """Tags for scikit-learn: 2-D single-feature input, unsupervised, seeded."""
        tags = super().__sklearn_tags__()
        # X must be 2-D (n_samples, 1), as for every scikit-learn density estimator.
        tags.input_tags.one_d_array = False
        tags.input_tags.two_d_array = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        # Given a fixed random_seed the fit is reproducible, draw for draw.
        tags.non_deterministic = False
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "result_")

    # -- fitting ---------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> Self:
        """Sample the posterior of the mixture given the one-feature data ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Finite real observations, one feature. A 1-D array is rejected: reshape it
            with ``y.reshape(-1, 1)``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        BayesianMixture
            The fitted estimator.

        Raises
        ------
        TypeError, ValueError
            For invalid input (sparse, complex, non-numeric, NaN or infinite, 1-D, more
            than one feature, fewer than 2 samples, constant) or parameters.

        Warns
        -----
        bayesmix.ConvergenceWarning
            One per failed convergence check, with a remedy.
        """
        checked = check_array(X, estimator=self, input_name="X", **_CHECK_FIT)
        data = self._one_feature(checked, fitting=True)
        result = fit(
            data,
            n_components=self.n_components,
            family=self.family,
            priors=self.priors,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            cores=self.cores,
            target_accept=self.target_accept,
            random_seed=self.random_seed,
            sampler=self.sampler,
            progressbar=self.progressbar,
        )
        # Only now, with the fit done, record n_features_in_ and feature_names_in_: a
        # failed fit leaves the estimator as it was.
        validate_data(self, X, reset=True, skip_check_array=True)
        draws = result.draws
        self.result_ = result
        self.weights_ = draws.weights.mean(axis=0)
        self.means_ = draws["mu"].mean(axis=0)[:, None]
        self.sigmas_ = draws["sigma"].mean(axis=0)[:, None]
        self.converged_ = bool(result.converged)
        self.random_seed_ = int(result.sampler_settings["random_seed"])
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the most probable component of each sample of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Observations, one feature.
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels, 0 for the component with the smallest mean.
        """
        return self.fit(X).predict(X)

    # -- prediction ------------------------------------------------------------------
    def _one_feature(self, X: np.ndarray, *, fitting: bool = False) -> np.ndarray:
        """Return the single column of a validated 2-D ``X`` as a 1-D float64 array."""
        if X.shape[1] != 1:
            raise ValueError(
                f"X has {X.shape[1]} features (shape={X.shape}), but {type(self).__name__} "
                "is univariate and needs exactly 1 feature; pass one column as a 2-D "
                "array, e.g. X[:, [0]] or df[['waiting']]"
            )
        if fitting:
            # bayesmix's own checks, e.g. that the data are not constant.
            return as_observations(X[:, 0], name="X")
        return X[:, 0]

    def _points(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        checked = validate_data(self, X, reset=False, **_CHECK_PREDICT)
        return self._one_feature(checked)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior mean probability that each sample belongs to each component.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Points, one feature.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Membership probabilities; each row sums to 1.
        """
        points = self._points(X)  # checks first that the estimator is fitted
        return self.result_.predict_proba(points)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each sample (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Points, one feature.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels, 0 for the component with the smallest mean.
        """
        return np.argmax(self.predict_proba(X), axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log posterior predictive density of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Points, one feature.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``log p(x | training data)``, the mixture density averaged over the posterior
            draws, computed without underflow.
        """
        points = self._points(X)
        return self.result_.score_samples(points)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log posterior predictive density of ``X``; higher is better.

        This is what :class:`~sklearn.model_selection.GridSearchCV` maximises by default:
        on held-out folds it estimates the expected log predictive density, so it can
        choose ``n_components``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1)
            Points, one feature.
        y : None
            Ignored.

        Returns
        -------
        float
            The mean of :meth:`score_samples` over ``X``.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(
        self, n_samples: int = 1, random_seed: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the posterior predictive distribution, with component labels.

        Each sample picks a posterior draw at random, then a component by its weights,
        then a normal value, so parameter uncertainty is propagated.

        Parameters
        ----------
        n_samples : int, default 1
            Number of samples, at least 1.
        random_seed : int, optional
            Seed; default the estimator's ``random_seed``, so that, as with
            ``GaussianMixture`` and an integer ``random_state``, every call returns the
            same samples. If both are None the samples are fresh each call.

        Returns
        -------
        X : ndarray of shape (n_samples, 1)
            The samples, in the order drawn (``GaussianMixture`` groups them by
            component instead); ``X[:, 0]`` equals ``result_.sample(n_samples, seed)``.
        labels : ndarray of shape (n_samples,)
            The component each sample was drawn from.
        """
        check_is_fitted(self)
        if (
            isinstance(n_samples, bool)
            or not isinstance(n_samples, numbers.Integral)
            or n_samples < 1
        ):
            raise ValueError(f"n_samples={n_samples!r} must be a positive integer")
        seed = self.random_seed if random_seed is None else random_seed
        values, labels = sample_components(
            int(n_samples), self.result_.draws, np.random.default_rng(seed)
        )
        return values[:, None], labels

    # -- pickling --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        # A copy: BaseEstimator may return the instance's own __dict__.
        state: dict[str, Any] = dict(super().__getstate__())
        result = state.get("result_")
        if result is not None:
            # The PyMC model holds compiled graphs and cannot be pickled; the result
            # rebuilds it from the DataTree when ``result_.model`` is first used.
            state["result_"] = MixtureResult(result.idata)
        return state
