"""Starts in the posterior's main mode: k-means, then a per-chain jitter as PyTensor.

:func:`start_values` finds one start from k-means on the standardised data;
:func:`em_starts` many, one per distinct local optimum of EM from random starts (for
``fit(..., explore=True)``, which looks for the posterior's other modes).

PyMC's default start jitters each unconstrained value by U(-1, 1); for the ordered means
that multiplies each gap by up to e, enough to put chains in different modes. Every
chain starts instead at a small, order-preserving jitter around one start (k-means, or
a consensus of chains): means moved by at most a tenth of the smallest gap, weights and
positive parameters scaled by at most ~10%.

The start values sit in shared variables and the jitter draws from a shared random
generator, so the expressions are PyMC initial-value strategies: nutpie compiles them
into its start function (``compile_pymc_model(initial_points=...)``) and reseeds the
generator per chain; PyMC's own sampler gets the same expressions evaluated per chain by
``pymc.initial_point.make_initial_point_fn``. One compiled sampler then serves any
start: :meth:`StartValues.set` swaps the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.initial_point import make_initial_point_fn

from bayesmix.model.build import standardisation
from bayesmix.model.spec import MixtureSpec

__all__ = ["JITTER", "StartValues", "em_starts", "start_values"]

#: Smallest gap between neighbouring start means, in data standard deviations.
_MIN_START_GAP = 1e-3
#: Smallest start sigma, in data standard deviations (a cluster of tied values has sd 0).
_MIN_START_SIGMA = 0.05

#: Half-width of the uniform jitter: of the smallest gap for the ordered means, on the log
#: scale for weights and positive parameters.
JITTER = 0.1


def _jittered(name: str, value: Any, positive: bool) -> Any:
    """Return the jitter expression of one variable around its start ``value``."""
    _, u = pt.random.uniform(
        -JITTER, JITTER, size=value.shape, rng=pt.random.shared_rng(seed=None),
        return_next_rng=True,
    )  # fmt: skip
    if name == "weights":
        w = value * pt.exp(u)
        return w / w.sum()
    if name == "mu_z":
        # K is fixed for a compiled model: one mean has no gap, and moves by up to JITTER
        gap = pt.min(pt.diff(value)) if value.get_value().size > 1 else 1.0
        return value + u * gap
    return value * pt.exp(u) if positive else value


@dataclass(frozen=True)
class StartValues:
    """Shared start values of a model's free variables, and their per-chain jitter.

    Build one per model with :meth:`for_model`; :attr:`strategies` are the model's
    initial-value overrides.
    """

    shared: dict[str, Any]
    strategies: dict[str, Any]

    @classmethod
    def for_model(cls, model: pm.Model, start: dict[str, np.ndarray]) -> StartValues:
        """Start expressions for the free variables of ``model`` named in ``start``.

        Free variables not in ``start`` (added by a user) keep PyMC's default start.
        """
        shared, strategies = {}, {}
        for rv in model.free_RVs:
            if rv.name not in start:
                continue
            value = pytensor.shared(np.asarray(start[rv.name], dtype=np.float64))
            # positive support: a log transform (sigma_z, nu), not the ordered one
            transform = model.rvs_to_transforms.get(rv)
            positive = type(transform).__name__ == "LogTransform"
            shared[rv.name] = value
            strategies[rv.name] = _jittered(rv.name, value, positive)
        return cls(shared, strategies)

    def set(self, start: dict[str, np.ndarray]) -> None:
        """Use ``start`` (constrained values by name) from now on."""
        for name, var in self.shared.items():
            var.set_value(np.asarray(start[name], dtype=np.float64))

    def per_chain(
        self, model: pm.Model, chains: int, random_seed: int
    ) -> list[dict[str, np.ndarray]]:
        """Return evaluated starts, one per chain (for samplers that take start values)."""
        fn = make_initial_point_fn(
            model=model, overrides=self.strategies, jitter_rvs=set(), return_transformed=False
        )
        seeds = np.random.SeedSequence([random_seed, 0xB1E5]).generate_state(chains)
        return [
            {name: v for name, v in fn(int(seed)).items() if name in self.shared} for seed in seeds
        ]


def _kmeans_1d(z: np.ndarray, k: int, n_iter: int = 100) -> np.ndarray:
    """Lloyd's k-means on sorted 1-D data, started at quantiles; returns labels."""
    centres = np.quantile(z, (np.arange(k) + 0.5) / k)
    labels = np.zeros(z.size, dtype=int)
    for _ in range(n_iter):
        # Sorted centres split the line at their midpoints; searchsorted assigns in O(n log k).
        centres = np.sort(centres)
        new = np.searchsorted((centres[1:] + centres[:-1]) / 2.0, z)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            members = z[labels == j]
            if members.size:
                centres[j] = members.mean()
    return labels


def start_values(y: np.ndarray, spec: MixtureSpec) -> dict[str, np.ndarray]:
    """Return a start in the posterior's main mode, from k-means on the standardised data.

    Returns constrained values for the sampled variables ``weights``, ``mu_z`` (strictly
    increasing), ``sigma_z`` and the family's further parameters (its ``start_extra``).
    PyMC's ordered transform needs strictly increasing start values; starting every
    chain here keeps chains from landing in different modes.
    """
    loc, scale = standardisation(y)
    z = (y - loc) / scale
    k = spec.n_components
    labels = _kmeans_1d(z, k)
    counts = np.bincount(labels, minlength=k)
    means = np.array([z[labels == j].mean() if counts[j] else np.nan for j in range(k)])
    sds = np.array([z[labels == j].std() if counts[j] > 1 else 0.0 for j in range(k)])
    # Empty clusters (possible with heavy ties) take the quantile positions instead.
    fallback = np.quantile(z, (np.arange(k) + 0.5) / k)
    means = np.where(np.isnan(means), fallback, means)
    means = np.sort(means)
    for j in range(1, k):  # strictly increasing, whatever the ties
        means[j] = max(means[j], means[j - 1] + _MIN_START_GAP)
    sigma_z = np.maximum(sds, _MIN_START_SIGMA)
    weights = (counts + 1.0) / (counts.sum() + k)
    return {
        "weights": weights,
        "mu_z": means,
        "sigma_z": sigma_z,
        **spec.components_family.start_extra(k),
    }


#: EM iterations per random start, and the floor on its sigmas (data sds): no
#: component collapses onto one point.
_EM_ITER = 300
_EM_SIGMA_FLOOR = 0.02
#: Two EM solutions are distinct when some sorted mean or log sigma differs by more.
_EM_DISTINCT = 0.2


def em_starts(
    y: np.ndarray, spec: MixtureSpec, n_starts: int, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Return starts at the distinct local optima of EM, the likeliest first.

    EM for a normal mixture (the starts of any family) on the standardised data from
    ``n_starts`` random starts: means at distinct random data points, one common sigma
    between 0.1 and 1 data sd, equal weights. Solutions whose sorted means and log
    sigmas all agree within ``_EM_DISTINCT`` are one optimum. Each start has the keys of
    :func:`start_values`, with strictly increasing means.
    """
    loc, scale = standardisation(y)
    z = (y - loc) / scale
    k = spec.n_components
    found: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
    for _ in range(n_starts):
        mu = np.sort(rng.choice(z, k, replace=z.size < k))
        w, mu, sd, ll = _em(z, np.full(k, 1.0 / k), mu, np.full(k, rng.uniform(0.1, 1.0)))
        signature = np.r_[mu, np.log(sd)]
        if all(
            np.abs(signature - np.r_[m, np.log(s)]).max() > _EM_DISTINCT for _, _, m, s in found
        ):
            found.append((ll, w, mu, sd))
    found.sort(key=lambda t: -t[0])
    starts = []
    for _, w, mu, sd in found:
        means = mu.copy()
        for j in range(1, k):
            means[j] = max(means[j], means[j - 1] + _MIN_START_GAP)
        starts.append({
            "weights": (w + 1e-3) / (w + 1e-3).sum(),
            "mu_z": means,
            "sigma_z": np.maximum(sd, _MIN_START_SIGMA),
            **spec.components_family.start_extra(k),
        })  # fmt: skip
    return starts


def _em(
    z: np.ndarray, w: np.ndarray, mu: np.ndarray, sd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Run EM for a normal mixture; return weights, means, sds (sorted) and log-lik."""
    for _ in range(_EM_ITER):
        log_r = np.log(w) - np.log(sd) - 0.5 * ((z[:, None] - mu) / sd) ** 2
        r = np.exp(log_r - log_r.max(axis=1, keepdims=True))
        r /= r.sum(axis=1, keepdims=True)
        n = r.sum(axis=0) + 1e-12
        w, mu = n / n.sum(), (r * z[:, None]).sum(axis=0) / n
        sd = np.sqrt((r * (z[:, None] - mu) ** 2).sum(axis=0) / n) + _EM_SIGMA_FLOOR
    log_r = np.log(w) - np.log(sd) - 0.5 * ((z[:, None] - mu) / sd) ** 2
    order = np.argsort(mu)
    ll = float(np.logaddexp.reduce(log_r, axis=1).sum())
    return w[order], mu[order], sd[order], ll
