"""Mixture maths on posterior draws: densities, bands, memberships, predictive samples.

NumPy, the row kernels of :mod:`bayesmix.likelihood` and the kernels of
:mod:`bayesmix.quantiles` for the bands: no PyMC, no xarray. Every function takes the
posterior as three arrays of shape ``(S, K)`` (S draws, K components) and evaluation
points ``x`` of shape ``(n,)``. Work is done in chunks of ``x`` so that no array of size
``S * n * K`` exists at once: evaluating a million points costs time, not memory. The
density band stores not even the (S, n) densities: one fused kernel computes them 8
points at a time, with their mean and quantiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.special import logsumexp

from bayesmix.likelihood import log_density_rows, responsibility_rows
from bayesmix.parallel import run_parallel, split_work
from bayesmix.quantiles import density_quantiles, mixture_densities, quantiles

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

#: Largest number of float64 elements an intermediate array may hold: draws x chunk x K
#: for memberships, draws x chunk for densities (which hold no per-component terms).
CHUNK_ELEMENTS = 2**21  # 16 MiB
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_2PI = np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Draws:
    """Posterior draws of a normal mixture, flattened over chains: arrays of shape (S, K)."""

    weights: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray

    def __post_init__(self) -> None:
        shapes = {self.weights.shape, self.mu.shape, self.sigma.shape}
        if len(shapes) != 1 or self.weights.ndim != 2:
            raise ValueError(f"weights, mu and sigma must share one (S, K) shape, got {shapes}")

    @property
    def n_draws(self) -> int:
        """Number of posterior draws S."""
        return int(self.weights.shape[0])

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.weights.shape[1])

    def thin(self, max_draws: int | None) -> Draws:
        """Keep at most ``max_draws`` evenly spaced draws (all of them if None)."""
        if max_draws is None or max_draws >= self.n_draws:
            return self
        idx = np.linspace(0, self.n_draws - 1, max_draws).round().astype(int)
        return Draws(self.weights[idx], self.mu[idx], self.sigma[idx])


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
    """log(w_k) + log N(x | mu_k, sigma_k) for every draw, point and component: (S, c, K)."""
    with np.errstate(divide="ignore"):  # an empty component's weight may underflow to 0
        const = np.log(d.weights) - np.log(d.sigma) - _LOG_SQRT_2PI
    z = (x[None, :, None] - d.mu[:, None, :]) / d.sigma[:, None, :]
    return const[:, None, :] - 0.5 * z * z


def _by_draws(kernel: Callable[..., None], x: np.ndarray, d: Draws, out: np.ndarray) -> np.ndarray:
    """Run a row kernel of :mod:`bayesmix.likelihood` into ``out``, draws split over cores.

    The kernels release the GIL and rows of draws are independent, so threads over
    contiguous blocks of rows give the same numbers, in parallel.
    """
    with np.errstate(divide="ignore"):  # an empty component's weight may underflow to 0
        logw = np.ascontiguousarray(np.log(d.weights), dtype=np.float64)
    x = np.ascontiguousarray(x, dtype=np.float64)
    mu = np.ascontiguousarray(d.mu, dtype=np.float64)
    sigma = np.ascontiguousarray(d.sigma, dtype=np.float64)
    parts = split_work(d.n_draws, out.size)
    run_parallel([partial(kernel, x, logw[p], mu[p], sigma[p], out[p]) for p in parts])
    return out


def _log_density_draws(x: np.ndarray, d: Draws) -> np.ndarray:
    """Log p(x | theta_s) for every draw s and point: (S, c), by the fused numba kernel."""
    return _by_draws(log_density_rows, x, d, np.empty((d.n_draws, x.size)))


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
    # one pass: the output is (S, n) anyway, and the kernel needs no temporaries
    return _log_density_draws(_as_points(y), draws)


def _interval(values: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise equal-tailed interval over axis 0: ``np.quantile``'s values."""
    tail = (1.0 - ci_prob) / 2.0
    lo, hi = quantiles(values, np.array([tail, 1.0 - tail]))
    return lo, hi


def _normal_terms(d: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coef, mu, half_inv)`` of :func:`bayesmix.quantiles.mixture_densities`: (K, S) each.

    Transposed and contiguous, so that the kernels' loops over the draws vectorise.
    """
    sigma = np.ascontiguousarray(d.sigma.T, dtype=np.float64)
    coef = np.ascontiguousarray(d.weights.T.astype(np.float64) / (sigma * _SQRT_2PI))
    return coef, np.ascontiguousarray(d.mu.T, dtype=np.float64), 0.5 / sigma


def density_band(x: np.ndarray | list[float], draws: Draws, ci_prob: float) -> Band:
    """Posterior mean density and its pointwise equal-tailed ``ci_prob`` interval.

    The S densities at each point are ``sum_k w_k exp(-z_k^2 / 2) / (sigma_k sqrt(2 pi))``
    with an inline vectorised ``exp``, not the log-sum-exp of :func:`pdf`: they agree to
    ~1e-16 * |log density| in relative terms. The fused kernel of
    :func:`bayesmix.quantiles.density_quantiles` computes them 8 points at a time, with
    their mean and ``np.quantile``'s interval of them bit for bit, and stores no (S, n)
    array.
    """
    pts = _as_points(x)
    tail = (1.0 - ci_prob) / 2.0
    q = np.array([tail, 1.0 - tail])
    terms = _normal_terms(draws)
    fused = density_quantiles(pts, *terms, q)
    if fused is not None:
        mean, (lower, upper) = fused
        return Band(mean, lower, upper, ci_prob)
    # NumPy's special cases (one draw, ci_prob = 1): its quantiles of the stored densities
    mean, lower, upper = (np.empty(pts.size) for _ in range(3))
    for sl in _chunks(pts.size, draws.n_draws):
        dens = mixture_densities(pts[sl], *terms)
        mean[sl] = dens.mean(axis=1)
        lower[sl], upper[sl] = np.quantile(dens, q, axis=1)
    return Band(mean, lower, upper, ci_prob)


def responsibilities(x: np.ndarray, d: Draws) -> np.ndarray:
    """p(z = k | x, theta_s) for every draw, point and component: (S, c, K)."""
    out = np.empty((d.n_draws, x.size, d.n_components))
    return _by_draws(responsibility_rows, x, d, out)


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
    """Posterior mean of each weighted component density ``w_k N(x | mu_k, sigma_k)``: (K, n).

    The K curves sum to :func:`pdf` at every point.
    """
    pts = _as_points(x)
    out = np.empty((draws.n_components, pts.size))
    for sl in _chunks(pts.size, draws.n_draws * draws.n_components):
        out[:, sl] = np.exp(_joint_logpdf(pts[sl], draws)).mean(axis=0).T
    return out


def sample_predictive(n: int, draws: Draws, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values from the posterior predictive distribution.

    Each value picks a posterior draw uniformly, then a component by its weights, then a
    normal value, so parameter uncertainty is propagated.
    """
    s = rng.integers(draws.n_draws, size=n)
    cum = np.cumsum(draws.weights[s], axis=1)
    u = rng.random(n)[:, None] * cum[:, -1:]
    k = np.minimum((u > cum).sum(axis=1), draws.n_components - 1)
    return rng.normal(draws.mu[s, k], draws.sigma[s, k])
