"""MixtureResult: a thin, immutable wrapper over the DataTree of a fitted mixture.

Everything it reports is computed from the tree (posterior, observed data, attrs), so a
result loaded from a file behaves exactly like a fresh one.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from arviz_base import rcParams
from arviz_stats import summary as az_summary

from bayesmix.diagnostics import Diagnostics, diagnose, warn_if_not_converged
from bayesmix.families import Family
from bayesmix.io import save as save_fit
from bayesmix.model import MixtureSpec, build_model
from bayesmix.posterior import density as dens
from bayesmix.posterior import membership
from bayesmix.posterior.modes import modes_table
from bayesmix.report import plots, write_report
from bayesmix.report.components import ComponentsTable, components_table
from bayesmix.report.tables import density_frame, membership_frame

if TYPE_CHECKING:
    import pymc as pm
    from matplotlib.axes import Axes

__all__ = ["MixtureResult"]


def _ci_prob(ci_prob: float | None) -> float:
    """Resolve ``ci_prob`` against ArviZ's rcParams, and check it."""
    prob = float(rcParams["stats.ci_prob"]) if ci_prob is None else float(ci_prob)
    if not 0.0 < prob < 1.0:
        raise ValueError(f"ci_prob={ci_prob!r} must lie in (0, 1), e.g. ci_prob=0.9")
    return prob


class MixtureResult:
    """A fitted Bayesian finite mixture.

    Do not build it by hand: :func:`bayesmix.fit` returns one.

    Parameters
    ----------
    idata : xarray.DataTree
        The posterior (``weights``, ``mu``, ``sigma`` with dim ``component``), sample
        stats, log likelihood, observed data, and attrs holding the spec and settings.
    model : pymc.Model, optional
        The PyMC model it was sampled from; rebuilt from the tree when not given.
    diagnostics : Diagnostics, optional
        The tree's diagnostics, if already computed (as ``fit_many``'s workers do);
        computed from the tree when first read otherwise.
    """

    idata: xr.DataTree
    _model: pm.Model | None

    def __init__(
        self,
        idata: xr.DataTree,
        model: pm.Model | None = None,
        diagnostics: Diagnostics | None = None,
    ) -> None:
        object.__setattr__(self, "idata", idata)
        object.__setattr__(self, "_model", model)
        if diagnostics is not None:
            self.__dict__["diagnostics"] = diagnostics  # the cached_property's slot
        for group in ("posterior", "observed_data"):
            if group not in idata.children:
                raise ValueError(f"the DataTree has no {group!r} group; is it a bayesmix fit?")
        if "bayesmix_spec" not in idata.attrs:
            raise ValueError(
                "the DataTree has no 'bayesmix_spec' attribute; is it a bayesmix fit?"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"MixtureResult is immutable; cannot set {name!r}")

    # -- what was fitted -------------------------------------------------------------
    @cached_property
    def spec(self) -> MixtureSpec:
        """The mixture specification with the resolved priors."""
        return MixtureSpec.from_dict(json.loads(self.idata.attrs["bayesmix_spec"]))

    @cached_property
    def sampler_settings(self) -> dict[str, Any]:
        """Sampler, draws, tune, chains, target_accept and the seed actually used."""
        raw = self.idata.attrs.get("bayesmix_sampler_settings", "{}")
        return dict(json.loads(raw))

    @property
    def n_components(self) -> int:
        """Number of mixture components K."""
        return self.spec.n_components

    @cached_property
    def data(self) -> np.ndarray:
        """The observations the model was fitted to."""
        return np.asarray(self.idata["observed_data"]["y"].values, dtype=np.float64)

    @property
    def model(self) -> pm.Model:
        """The PyMC model (rebuilt from the data and spec for a loaded result)."""
        if self._model is None:
            object.__setattr__(self, "_model", build_model(self.data, self.spec))
        assert self._model is not None
        return self._model

    @property
    def family(self) -> Family:
        """The component family (:mod:`bayesmix.families`)."""
        return self.spec.components_family

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the per-component posterior variables: weights and the family's."""
        return ("weights", *self.family.names)

    @cached_property
    def draws(self) -> dens.Draws:
        """Posterior draws of weights and parameters, each of shape (draws x chains, K)."""
        return dens.Draws.from_posterior(self.idata["posterior"], self.family)

    # -- summaries -------------------------------------------------------------------
    def summary(
        self, var_names: list[str] | None = None, ci_prob: float | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """ArviZ summary of the posterior: mean, sd, interval, ESS, r_hat, MCSE.

        Parameters
        ----------
        var_names : list of str, optional
            Variables to summarise; default ``["weights", "mu", "sigma"]`` and the
            family's further parameters (``nu``); weights are left out for K = 1, where
            the single weight is 1.
        ci_prob : float, optional
            Probability of the credible interval; default ArviZ's ``stats.ci_prob``.
        **kwargs
            Passed to :func:`arviz_stats.summary` (e.g. ``ci_kind="hdi"``).

        Returns
        -------
        pandas.DataFrame
            One row per parameter, e.g. ``mu[0]``.
        """
        if var_names is None:
            var_names = [v for v in self.parameters if v != "weights" or self.n_components > 1]
        return az_summary(self.idata, var_names=var_names, ci_prob=_ci_prob(ci_prob), **kwargs)

    def components_table(self, ci_prob: float | None = None) -> ComponentsTable:
        """Posterior mean and equal-tailed interval of each component's weight and parameters.

        Parameters
        ----------
        ci_prob : float, optional
            Interval probability; default ArviZ's ``stats.ci_prob``.

        Returns
        -------
        ComponentsTable
            A DataFrame, one row per component, columns ``weight``, ``weight_lower``,
            ``weight_upper``, ``mean``, ``mean_lower``, ..., ``sigma_upper`` (and ``nu``,
            ``nu_lower``, ``nu_upper`` for Student-t components). It prints compactly,
            one ``"estimate [lower, upper]"`` cell per quantity.
        """
        return components_table(self.draws, _ci_prob(ci_prob))

    @property
    def components(self) -> ComponentsTable:
        """Tidy per-component table: weight, mean, sigma (nu) with credible intervals."""
        return self.components_table()

    @cached_property
    def diagnostics(self) -> Diagnostics:
        """Convergence diagnostics: r_hat, ESS, divergences, chains in different modes."""
        return diagnose(self.idata)

    @property
    def modes(self) -> pd.DataFrame | None:
        """Modes found by ``fit(..., explore=True)`` with their posterior mass (else None)."""
        return modes_table(self.idata)

    @property
    def converged(self) -> bool:
        """Whether every convergence check passed."""
        return self.diagnostics.converged

    def check_convergence(self, stacklevel: int = 2) -> Diagnostics:
        """Issue a :class:`ConvergenceWarning` for each failed check; return diagnostics."""
        warn_if_not_converged(self.diagnostics, stacklevel=stacklevel + 1)
        return self.diagnostics

    # -- densities and memberships --------------------------------------------------------
    def grid(self, n_points: int = 500, pad: float = 0.1) -> np.ndarray:
        """Evenly spaced points over the data's range, widened by ``pad`` of it each side."""
        lo, hi = float(self.data.min()), float(self.data.max())
        span = hi - lo
        return np.linspace(lo - pad * span, hi + pad * span, n_points)

    def pdf(self, x: Any) -> np.ndarray:
        """Posterior predictive density at ``x`` (the posterior mean of the mixture density).

        Parameters
        ----------
        x : array_like
            Points, shape (n,).

        Returns
        -------
        numpy.ndarray
            Density values, shape (n,).
        """
        return dens.pdf(x, self.draws)

    def score_samples(self, x: Any) -> np.ndarray:
        """Log posterior predictive density at ``x``, computed without underflow."""
        return dens.log_pdf(x, self.draws)

    def density(self, x: Any = None, ci_prob: float | None = None) -> pd.DataFrame:
        """Posterior predictive density with a pointwise credible band.

        Parameters
        ----------
        x : array_like, optional
            Points; default 500 points over the data's range (see :meth:`grid`).
        ci_prob : float, optional
            Band probability; default ArviZ's ``stats.ci_prob``.

        Returns
        -------
        pandas.DataFrame
            Columns ``x``, ``mean``, ``lower``, ``upper``; ``attrs["ci_prob"]`` holds the
            probability.

        See Also
        --------
        plot_density : the same, drawn over a histogram of the data.
        """
        pts = self.grid() if x is None else np.asarray(x, dtype=np.float64).reshape(-1)
        return density_frame(pts, self.draws, _ci_prob(ci_prob))

    def predict_proba(self, x: Any = None) -> np.ndarray:
        """Posterior mean probability that each point belongs to each component.

        Parameters
        ----------
        x : array_like, optional
            Points; default the observed data.

        Returns
        -------
        numpy.ndarray
            Shape (n, K); each row sums to 1. For the observed data it is computed
            once per result (a copy is returned), so ``predict()`` after it is free.
        """
        if x is None:
            return self._data_proba.copy()
        return dens.predict_proba(x, self.draws)

    @cached_property
    def _data_proba(self) -> np.ndarray:
        """Memberships of the observed data (at N = 10^6 they take ~30 s)."""
        return dens.predict_proba(self.data, self.draws)

    def predict(self, x: Any = None) -> np.ndarray:
        """Most probable component of each point (default: the observed data)."""
        proba = self._data_proba if x is None else self.predict_proba(x)
        return np.argmax(proba, axis=1)

    def membership(self, x: Any = None, ci_prob: float | None = None) -> pd.DataFrame:
        """Membership probabilities with their posterior uncertainty.

        Parameters
        ----------
        x : array_like, optional
            Points; default the observed data.
        ci_prob : float, optional
            Interval probability; default ArviZ's ``stats.ci_prob``.

        Returns
        -------
        pandas.DataFrame
            One row per (point, component): ``x``, ``component``, ``mean``, ``lower``,
            ``upper``.
        """
        pts = self.data if x is None else np.asarray(x, dtype=np.float64).reshape(-1)
        return membership_frame(pts, self.draws, _ci_prob(ci_prob))

    def sample(self, n: int, random_seed: int | None = None) -> np.ndarray:
        """Draw ``n`` values from the posterior predictive distribution."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n={n!r} must be a non-negative integer")
        return dens.sample_predictive(int(n), self.draws, np.random.default_rng(random_seed))

    # -- groups: labels, co-clustering, partitions, number of groups -----------------------
    def label_draws(self, max_draws: int | None = 1000, random_seed: int | None = 0) -> np.ndarray:
        """Posterior draws of every observation's component, shape (draws, n).

        Drawn from ``p(z_i | y_i, theta_s)`` for ``max_draws`` evenly spaced posterior
        draws (all if None); seeded, so the same call gives the same labels.
        """
        rng = np.random.default_rng(random_seed)
        return membership.sample_labels(self.data, self.draws.thin(max_draws), rng)

    def occupied_components(
        self, max_draws: int | None = None, random_seed: int | None = 0
    ) -> pd.Series:
        """Posterior of the number of non-empty components K+ (for sparse mixtures).

        Parameters
        ----------
        max_draws : int, optional
            Posterior draws to use (default all).
        random_seed : int, optional
            Seed of the label draws.

        Returns
        -------
        pandas.Series
            ``P(K+ = k | y)`` for k = 1..K, indexed by k.

        See Also
        --------
        bayesmix.fit_sparse : an overfitted mixture whose surplus components empty out.
        """
        counts = membership.n_occupied(self.label_draws(max_draws, random_seed))
        freq = np.bincount(counts, minlength=self.n_components + 1)[1:] / counts.size
        return pd.Series(
            freq, index=pd.RangeIndex(1, self.n_components + 1, name="K+"), name="probability"
        )

    def coclustering(self, max_draws: int | None = 1000) -> np.ndarray:
        """Posterior similarity matrix: ``P(z_i = z_j | y)`` for every pair, shape (n, n).

        Label-invariant; exact given the draws (no label sampling). For n up to 5000.
        """
        return membership.coclustering(self.data, self.draws.thin(max_draws))

    def partition(
        self, loss: str = "binder", max_draws: int = 500, random_seed: int | None = 0
    ) -> np.ndarray:
        """Return one best grouping of the observations, minimising posterior expected loss.

        Parameters
        ----------
        loss : {"binder", "vi"}, default "binder"
            Binder's loss (expected number of wrongly paired observations) or the
            variation of information (Wade & Ghahramani 2018), which tends to merge
            uncertain groups rather than split them.
        max_draws : int, default 500
            Posterior draws used for the candidates and the loss.
        random_seed : int, optional
            Seed of the label draws.

        Returns
        -------
        numpy.ndarray
            Component label of each observation, shape (n,).
        """
        labels = self.label_draws(max_draws, random_seed)
        similarity = self.coclustering(max_draws) if loss == "binder" else None
        best, _ = membership.best_partition(labels, self.predict(), similarity, loss)
        return best

    # -- plots -----------------------------------------------------------------------
    def plot_density(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Histogram, predictive density with its band, and weighted components.

        See :func:`bayesmix.plots.plot_density` for the options.
        """
        return plots.plot_density(self, ax=ax, **kwargs)

    def plot_membership(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Membership probability of each component along x, with credible bands.

        See :func:`bayesmix.plots.plot_membership` for the options.
        """
        return plots.plot_membership(self, ax=ax, **kwargs)

    def plot_trace(self, **kwargs: Any) -> Any:
        """Trace and marginal posterior of weights, mu and sigma (ArviZ).

        See :func:`bayesmix.plots.plot_trace` for the options.
        """
        return plots.plot_trace(self, **kwargs)

    def report(self, path: str | Path, **kwargs: Any) -> Path:
        """Write a self-contained HTML report; see :func:`bayesmix.report.write_report`."""
        return write_report(self, path, **kwargs)

    def save(self, path: str | Path) -> Path:
        """Write the fit to one NetCDF file; see :func:`bayesmix.io.save` and ``bm.load``."""
        return save_fit(self, path)

    # -- display ---------------------------------------------------------------------
    def __repr__(self) -> str:
        s = self.sampler_settings
        post = self.idata["posterior"]
        verdict = "converged" if self.converged else "NOT converged (see .diagnostics)"
        head = (
            f"<MixtureResult: {self.n_components}-component {self.family.adjective} mixture of "
            f"{self.data.size} observations; {post.sizes['chain']} chains x "
            f"{post.sizes['draw']} draws ({s.get('sampler', '?')}, seed "
            f"{s.get('random_seed', '?')}); {verdict}>"
        )
        return head + "\n" + self.components.compact().to_string()
