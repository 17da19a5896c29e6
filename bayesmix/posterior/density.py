"""Mixture maths on posterior draws: densities, bands, memberships, predictive samples.

Generic over component families: the family's NumPy log density
(:attr:`bayesmix.families.Family.logpdf`) gives each draw's component terms, and
everything here is log-sum-exp, softmax, means and quantiles over them. No PyMC, no
xarray. The posterior is a :class:`Draws` (weights and parameters of shape ``(S, K)``);
evaluation points ``x`` have shape ``(n,)``. Work is done in chunks of ``x`` so that no
array of more than ``CHUNK_ELEMENTS`` values exists at once: evaluating a million
points costs time, not memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp, softmax

from bayesmix.families import Family, get_family
from bayesmix.families.pointwise import log_density_draws

__all__ = [
    "Band",
    "Draws",
    "component_curves",
    "density_band",
    "log_pdf",
    "membership_band",
    "pdf",
    "pointwise_log_lik",
    "predict_proba",
    "responsibilities",
    "sample_predictive",
]

#: Largest number of float64 elements an intermediate array may hold (draws x chunk x K).
CHUNK_ELEMENTS = 2**21  # 16 MiB


@dataclass(frozen=True)
class Draws:
    """Posterior draws of a mixture, flattened over chains.

    Parameters
    ----------
    family : Family
        The component family.
    weights : numpy.ndarray
        Mixture weights, shape (S, K).
    params : mapping of str to numpy.ndarray
        The family's parameters on the data's scale by name, each (S, K).
    """

    family: Family
    weights: np.ndarray
    params: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        missing = set(self.family.names) - set(self.params)
        if missing:
            raise ValueError(f"draws of the {self.family.name} family need {sorted(missing)}")
        shapes = {self.weights.shape} | {self.params[n].shape for n in self.family.names}
        if len(shapes) != 1 or self.weights.ndim != 2:
            raise ValueError(f"weights and parameters must share one (S, K) shape, got {shapes}")

    @classmethod
    def from_posterior(cls, posterior: Any, family: str | Family) -> Draws:
        """Read the draws of ``weights`` and the family's parameters from a posterior.

        ``posterior`` is a Dataset or DataTree node with dims (chain, draw, component);
        (chain, draw) is flattened in C order, as xarray's ``stack`` would.
        """
        fam = get_family(family) if isinstance(family, str) else family

        def flat(name: str) -> np.ndarray:
            values = np.asarray(posterior[name].transpose("chain", "draw", "component").values)
            return np.ascontiguousarray(values.reshape(-1, values.shape[-1]), dtype=np.float64)

        return cls(fam, flat("weights"), {name: flat(name) for name in fam.names})

    @classmethod
    def normal(cls, weights: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> Draws:
        """Draws of a normal mixture from its three (S, K) arrays."""
        return cls(get_family("normal"), weights, {"mu": mu, "sigma": sigma})

    def __getitem__(self, name: str) -> np.ndarray:
        """Return the draws of ``weights`` or of one parameter, by name."""
        return self.weights if name == "weights" else self.params[name]

    @property
    def n_draws(self) -> int:
        """Number of posterior draws S."""
        return int(self.weights.shape[0])

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.weights.shape[1])

    def take(self, index: Any) -> Draws:
        """Return the draws at ``index`` (an index array or slice over S)."""
        params = {name: values[index] for name, values in self.params.items()}
        return Draws(self.family, self.weights[index], params)

    def thin(self, max_draws: int | None) -> Draws:
        """Keep at most ``max_draws`` evenly spaced draws (all of them if None)."""
        if max_draws is None or max_draws >= self.n_draws:
            return self
        return self.take(np.linspace(0, self.n_draws - 1, max_draws).round().astype(int))


@dataclass(frozen=True)
class Band:
    """A posterior mean with a pointwise equal-tailed credible interval."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    ci_prob: float


def _as_points(x: np.ndarray | list[float] | float) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"x has shape {arr.shape}; pass a 1-D array of points")
    arr = arr.reshape(-1)
    if not np.isfinite(arr).all():
        raise ValueError("x holds NaN or infinite values; pass finite points")
    return arr


def _chunks(n: int, per_point: int) -> Iterator[slice]:
    """Slices of ``range(n)`` whose chunk x ``per_point`` stays under CHUNK_ELEMENTS."""
    size = max(1, CHUNK_ELEMENTS // max(per_point, 1))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _joint_logpdf(x: np.ndarray, d: Draws) -> np.ndarray:
    """log(w_k) + log p(x | theta_k) for every draw, point and component: (S, c, K)."""
    params = [d.params[name][:, None, :] for name in d.family.names]
    with np.errstate(divide="ignore"):  # an empty component's weight may underflow to 0
        logw = np.log(d.weights)[:, None, :]
    return logw + d.family.logpdf(x[None, :, None], *params)


def _log_density_draws(x: np.ndarray, d: Draws) -> np.ndarray:
    """Log p(x | theta_s) for every draw s and point: (S, c), by the family's kernel."""
    params = tuple(d.params[name] for name in d.family.names)
    return log_density_draws(x, d.family, d.weights, params)


def pdf(x: np.ndarray | list[float], draws: Draws) -> np.ndarray:
    """Posterior predictive density ``p(x | y) = mean_s p(x | theta_s)``, shape (n,)."""
    pts = _as_points(x)
    out = np.empty(pts.size)
    for sl in _chunks(pts.size, draws.n_draws):
        out[sl] = np.exp(_log_density_draws(pts[sl], draws)).mean(axis=0)
    return out


def log_pdf(x: np.ndarray | list[float], draws: Draws) -> np.ndarray:
    """Log of the posterior predictive density, computed stably, shape (n,)."""
    pts = _as_points(x)
    out = np.empty(pts.size)
    for sl in _chunks(pts.size, draws.n_draws):
        out[sl] = logsumexp(_log_density_draws(pts[sl], draws), axis=0) - np.log(draws.n_draws)
    return out


def pointwise_log_lik(y: np.ndarray, draws: Draws) -> np.ndarray:
    """Log p(y_i | theta_s) for every draw and observation, shape (S, n)."""
    pts = _as_points(y)
    out = np.empty((draws.n_draws, pts.size))
    for sl in _chunks(pts.size, draws.n_draws):
        out[:, sl] = _log_density_draws(pts[sl], draws)
    return out


def _interval(values: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise equal-tailed interval over axis 0."""
    tail = (1.0 - ci_prob) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail], axis=0)
    return lo, hi


def density_band(x: np.ndarray | list[float], draws: Draws, ci_prob: float) -> Band:
    """Posterior mean density and its pointwise equal-tailed ``ci_prob`` interval."""
    pts = _as_points(x)
    mean, lower, upper = (np.empty(pts.size) for _ in range(3))
    for sl in _chunks(pts.size, draws.n_draws):
        dens = np.exp(_log_density_draws(pts[sl], draws))
        mean[sl] = dens.mean(axis=0)
        lower[sl], upper[sl] = _interval(dens, ci_prob)
    return Band(mean, lower, upper, ci_prob)


def responsibilities(x: np.ndarray, d: Draws) -> np.ndarray:
    """p(z = k | x, theta_s) for every draw, point and component: (S, c, K)."""
    return np.asarray(softmax(_joint_logpdf(_as_points(x), d), axis=2))


def predict_proba(x: np.ndarray | list[float], draws: Draws) -> np.ndarray:
    """Posterior mean membership probabilities, shape (n, K); rows sum to 1."""
    pts = _as_points(x)
    out = np.empty((pts.size, draws.n_components))
    for sl in _chunks(pts.size, draws.n_draws * draws.n_components):
        out[sl] = responsibilities(pts[sl], draws).mean(axis=0)
    return out


def membership_band(x: np.ndarray | list[float], draws: Draws, ci_prob: float) -> Band:
    """Membership probabilities with pointwise ``ci_prob`` intervals, each of shape (n, K)."""
    pts = _as_points(x)
    k = draws.n_components
    mean, lower, upper = (np.empty((pts.size, k)) for _ in range(3))
    for sl in _chunks(pts.size, draws.n_draws * k):
        resp = responsibilities(pts[sl], draws)
        mean[sl] = resp.mean(axis=0)
        lower[sl], upper[sl] = _interval(resp, ci_prob)
    return Band(mean, lower, upper, ci_prob)


def component_curves(x: np.ndarray | list[float], draws: Draws) -> np.ndarray:
    """Posterior mean of each weighted component density ``w_k p(x | theta_k)``: (K, n).

    The K curves sum to :func:`pdf` at every point.
    """
    pts = _as_points(x)
    out = np.empty((draws.n_components, pts.size))
    for sl in _chunks(pts.size, draws.n_draws * draws.n_components):
        out[:, sl] = np.exp(_joint_logpdf(pts[sl], draws)).mean(axis=0).T
    return out


def sample_components(
    n: int, draws: Draws, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` values from the posterior predictive, with the component of each.

    Each value picks a posterior draw uniformly, then a component by its weights, then a
    value from that component (the family's ``rvs``), so parameter uncertainty is
    propagated.
    """
    s = rng.integers(draws.n_draws, size=n)
    cum = np.cumsum(draws.weights[s], axis=1)
    u = rng.random(n)[:, None] * cum[:, -1:]
    k = np.minimum((u > cum).sum(axis=1), draws.n_components - 1)
    params = [draws.params[name][s, k] for name in draws.family.names]
    return draws.family.rvs(rng, *params), k


def sample_predictive(n: int, draws: Draws, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values from the posterior predictive distribution."""
    return sample_components(n, draws, rng)[0]
