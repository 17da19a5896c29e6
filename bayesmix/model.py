"""The only module that builds a PyMC graph: the marginalised finite normal mixture.

Variable and dimension names are public (they appear in saved files):

- ``weights`` (dim ``component``): mixture weights, Dirichlet.
- ``mu``, ``sigma`` (dim ``component``): component means (ordered) and standard deviations
  on the data's scale. They are deterministic functions of the sampled ``mu_z`` and
  ``sigma_z``, the same quantities on the standardised scale ``z = (y - loc) / scale``
  (``loc``, ``scale``: the data's mean and standard deviation). Sampling on that scale
  makes the posterior geometry the same whatever the data's units, which is what makes
  fits equivariant and numerically safe for data in units of 1e-9 or offset by 1e9.
- ``y`` (dim ``obs``): the observations; the discrete labels are summed out, so each
  ``y_i`` has density ``sum_k w_k Normal(y_i | mu_k, sigma_k)``. Its log density is one
  fused kernel (:mod:`bayesmix.likelihood`) returning the sum over observations; the
  pointwise log-likelihood for LOO is computed by :mod:`bayesmix.density` instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.distributions.transforms import ordered

from bayesmix.data import as_observations
from bayesmix.likelihood import mixture_loglik
from bayesmix.spec import MixtureSpec

__all__ = ["SHARED_NAMES", "build_model", "shared_values", "start_values", "standardisation"]

#: Names of the model's shared variables (data, standardisation, priors on the z scale,
#: Dirichlet concentrations): ``compiled.with_data(**{name: value})`` swaps them.
SHARED_OBSERVED = "y_observed"
SHARED_STANDARDISE = "y_loc_scale"
SHARED_PRIORS = "priors_z"
SHARED_ALPHA = "weights_alpha"
SHARED_NAMES = (SHARED_OBSERVED, SHARED_STANDARDISE, SHARED_PRIORS, SHARED_ALPHA)

#: Smallest gap between neighbouring start means, in data standard deviations.
_MIN_START_GAP = 1e-3
#: Smallest start sigma, in data standard deviations (a cluster of tied values has sd 0).
_MIN_START_SIGMA = 0.05


def standardisation(y: np.ndarray) -> tuple[float, float]:
    """Return ``(loc, scale)``: the data's mean and standard deviation."""
    return float(np.mean(y)), float(np.std(y))


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
    increasing) and ``sigma_z``. PyMC's ordered transform needs strictly increasing start
    values; starting every chain here keeps chains from landing in different modes.
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
    return {"weights": weights, "mu_z": means, "sigma_z": sigma_z}


def jittered_starts(
    start: dict[str, np.ndarray], chains: int, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """One start per chain: small jitter around ``start`` that keeps the means ordered.

    The jitter (means moved by at most a tenth of the smallest gap, sigmas and weights
    scaled by at most ~10%) lets chains explore independently while all of them begin
    in the same mode.
    """
    mu = start["mu_z"]
    gap = np.min(np.diff(mu)) if mu.size > 1 else 1.0
    out = []
    for _ in range(chains):
        # K = 1 has no free weights; jitter a placeholder so the random stream is the same
        w = start.get("weights", np.ones(mu.size)) * np.exp(rng.uniform(-0.1, 0.1, mu.size))
        out.append(
            {
                "weights": w / w.sum(),
                "mu_z": mu + rng.uniform(-0.1, 0.1, mu.size) * gap,
                "sigma_z": start["sigma_z"] * np.exp(rng.uniform(-0.1, 0.1, mu.size)),
            }
        )
    return out


def _sigma_prior(family: str, scale: Any) -> pm.Distribution:
    """Declare the prior of the standardised sigmas, of scale ``scale`` in every family."""
    if family == "gamma":  # shape 2: mean = scale, mode = scale / 2, density 0 at 0
        return pm.Gamma("sigma_z", alpha=2.0, beta=2.0 / scale, dims="component")
    if family == "invgamma":  # shape 3: mean = scale, mode = scale / 2
        return pm.InverseGamma("sigma_z", alpha=3.0, beta=2.0 * scale, dims="component")
    return pm.HalfNormal("sigma_z", sigma=scale, dims="component")


def build_model(data: Any, spec: MixtureSpec | int, *, pointwise: bool = False) -> pm.Model:
    """Build the PyMC model of a finite normal mixture with the labels marginalised out.

    Parameters
    ----------
    data : array_like
        The observations (validated as in :func:`bayesmix.fit`).
    spec : MixtureSpec or int
        The mixture to build. An int is the number of components, with default priors
        resolved against ``data``; a spec whose priors hold ``None`` is resolved likewise.
    pointwise : bool, default False
        Declare ``y`` with ``pm.NormalMixture``, whose log density is per observation
        (what ``pm.compute_log_likelihood`` and LOO moment matching need), instead of
        the fused kernel, which returns the sum only and is several times faster. The
        posterior is the same.

    Returns
    -------
    pymc.Model
        A model with coords ``component`` and ``obs``, free variables ``weights``
        (omitted when K = 1), ``mu_z`` and ``sigma_z``, deterministics ``mu`` and
        ``sigma`` and the observed ``y``. It has no custom initial values (they would
        block PyMC's model transforms); to sample it yourself, pass
        ``initvals=start_values(y, spec)``: the ordered means need strictly increasing
        starts.

    See Also
    --------
    bayesmix.fit : build, sample and wrap the result in one call.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(200, [0.5, 0.5], [0.0, 4.0], [1.0, 1.0], random_seed=0)
    >>> model = bm.build_model(y, 2)
    >>> sorted(rv.name for rv in model.free_RVs)
    ['mu_z', 'sigma_z', 'weights']
    """
    y = as_observations(data)
    if not isinstance(spec, MixtureSpec):
        spec = MixtureSpec.from_data(y, spec)
    elif not spec.priors.is_resolved:
        spec = MixtureSpec(spec.n_components, spec.priors.resolve(y), spec.family)
    if spec.n_components > y.size:
        raise ValueError(
            f"n_components={spec.n_components} but only {y.size} observations; need at "
            "least n_components observations"
        )
    k, p = spec.n_components, spec.priors
    loc, scale = standardisation(y)
    coords = {"component": np.arange(k), "obs": np.arange(y.size)}
    # Every number that depends on the data or the priors enters as a shared variable,
    # not a constant: the compiled graph then depends only on K and the sigma family,
    # so PyTensor's cache and bayesmix's compiled-sampler cache serve every data set.
    values = shared_values(y, spec)
    standardise = pytensor.shared(values[SHARED_STANDARDISE], name=SHARED_STANDARDISE)
    hyper = pytensor.shared(values[SHARED_PRIORS], name=SHARED_PRIORS)
    alpha = pytensor.shared(values[SHARED_ALPHA], name=SHARED_ALPHA)
    with pm.Model(coords=coords) as model:
        if k == 1:
            weights = pm.Deterministic("weights", pm.math.ones(1), dims="component")
        else:
            weights = pm.Dirichlet("weights", a=alpha, dims="component")
        ordering = {"transform": ordered} if k > 1 else {}
        mu_z = pm.Normal("mu_z", mu=hyper[0], sigma=hyper[1], dims="component", **ordering)
        sigma_z = _sigma_prior(p.sigma_prior, hyper[2])
        mu = pm.Deterministic("mu", standardise[0] + standardise[1] * mu_z, dims="component")
        sigma = pm.Deterministic("sigma", standardise[1] * sigma_z, dims="component")
        observed = pytensor.shared(values[SHARED_OBSERVED], name=SHARED_OBSERVED)
        if k == 1:
            pm.Normal("y", mu=mu[0], sigma=sigma[0], observed=observed, dims="obs")
        elif pointwise:
            pm.NormalMixture("y", w=weights, mu=mu, sigma=sigma, observed=observed, dims="obs")
        else:
            _observed_mixture(observed, loc, scale, standardise, weights, mu_z, sigma_z)
    return model


def shared_values(y: np.ndarray, spec: MixtureSpec) -> dict[str, np.ndarray]:
    """Return the values :func:`build_model` gives its shared variables, by name.

    ``y`` must be validated and ``spec`` resolved. Samplers that take the density
    without its PyMC graph (nutpie's direct path) read the numbers from here.
    """
    p = spec.priors
    assert p.mu_loc is not None and p.mu_scale is not None and p.sigma_scale is not None
    loc, scale = standardisation(y)
    return {
        SHARED_OBSERVED: y,
        SHARED_STANDARDISE: np.array([loc, scale]),
        SHARED_PRIORS: np.array(
            [(p.mu_loc - loc) / scale, p.mu_scale / scale, p.sigma_scale / scale]
        ),
        SHARED_ALPHA: np.full(spec.n_components, p.weights_concentration),
    }


def _observed_mixture(
    observed: Any,
    loc: float,
    scale: float,
    standardise: Any,
    weights: Any,
    mu_z: Any,
    sigma_z: Any,
) -> None:
    """Declare the observed ``y`` with the fused likelihood of :mod:`bayesmix.likelihood`.

    The log density is evaluated on the standardised scale (no cancellation for data
    offset by 1e9) as one scalar over all observations, which is all NUTS needs; the
    generative graph (prior and posterior predictive draws) is ``pm.NormalMixture``'s.
    """

    def logp(value: Any, w: Any, mu: Any, sigma: Any) -> Any:
        loglik = mixture_loglik(value, standardise, pt.log(w), mu, sigma)
        return loglik - value.shape[0] * pt.log(standardise[1])

    def dist(w: Any, mu: Any, sigma: Any, size: Any) -> Any:
        return loc + scale * pm.NormalMixture.dist(w=w, mu=mu, sigma=sigma, size=size)

    pm.CustomDist(
        "y",
        weights,
        mu_z,
        sigma_z,
        dist=dist,
        logp=logp,
        signature="(k),(k),(k)->()",
        observed=observed,
        dims="obs",
    )
