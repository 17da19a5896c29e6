"""The only module that builds a PyMC graph: the marginalised finite mixture of a family.

Variable and dimension names are public (they appear in saved files):

- ``weights`` (dim ``component``): mixture weights, Dirichlet.
- ``mu``, ``sigma`` (dim ``component``): component locations (ordered) and scales on the
  data's scale. They are deterministic functions of the sampled ``mu_z`` and
  ``sigma_z``, the same quantities on the standardised scale ``z = (y - loc) / scale``
  (``loc``, ``scale``: the data's mean and standard deviation). Sampling on that scale
  makes the posterior geometry the same whatever the data's units, which is what makes
  fits equivariant and numerically safe for data in units of 1e-9 or offset by 1e9.
- the family's further parameters, scale-free (``nu`` for the Student-t family).
- ``y`` (dim ``obs``): the observations; the discrete labels are summed out, so each
  ``y_i`` has density ``sum_k w_k p(y_i | theta_k)``. Its log density is the family's
  fused kernel (:mod:`bayesmix.families.fused`), or ``pm.Mixture`` of the family's
  ``component_dist`` with ``pointwise=True``: the same density, tested equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.distributions.transforms import ordered

from bayesmix.data.validate import as_observations
from bayesmix.families import Family
from bayesmix.families.fused import fused_loglik
from bayesmix.model.spec import MixtureSpec

__all__ = ["SHARED_NAMES", "build_model", "shared_values", "standardisation"]

#: Names of the model's shared variables (data, standardisation, priors on the z scale,
#: Dirichlet concentrations): ``compiled.with_data(**{name: value})`` swaps them.
SHARED_OBSERVED = "y_observed"
SHARED_STANDARDISE = "y_loc_scale"
SHARED_PRIORS = "priors_z"
SHARED_ALPHA = "weights_alpha"
SHARED_NAMES = (SHARED_OBSERVED, SHARED_STANDARDISE, SHARED_PRIORS, SHARED_ALPHA)


def standardisation(y: np.ndarray) -> tuple[float, float]:
    """Return ``(loc, scale)``: the data's mean and standard deviation."""
    return float(np.mean(y)), float(np.std(y))


def _sigma_prior(family: str, scale: Any) -> pm.Distribution:
    """Declare the prior of the standardised sigmas, of scale ``scale`` in every family."""
    if family == "gamma":  # shape 2: mean = scale, mode = scale / 2, density 0 at 0
        return pm.Gamma("sigma_z", alpha=2.0, beta=2.0 / scale, dims="component")
    if family == "invgamma":  # shape 3: mean = scale, mode = scale / 2
        return pm.InverseGamma("sigma_z", alpha=3.0, beta=2.0 * scale, dims="component")
    return pm.HalfNormal("sigma_z", sigma=scale, dims="component")


def build_model(data: Any, spec: MixtureSpec | int, *, pointwise: bool = False) -> pm.Model:
    """Build the PyMC model of a finite mixture with the labels marginalised out.

    Parameters
    ----------
    data : array_like
        The observations (validated as in :func:`bayesmix.fit`).
    spec : MixtureSpec or int
        The mixture to build. An int is the number of components, with default priors
        resolved against ``data``; a spec whose priors hold ``None`` is resolved likewise.
    pointwise : bool, default False
        Declare ``y`` with ``pm.Mixture`` of the family's components, whose log density
        is per observation (what ``pm.compute_log_likelihood``, LOO moment matching and
        the JAX samplers need), instead of the fused kernel, which returns the sum only
        and is several times faster. The posterior is the same.

    Returns
    -------
    pymc.Model
        A model with coords ``component`` and ``obs``, free variables ``weights``
        (omitted when K = 1), ``mu_z``, ``sigma_z`` and the family's own (``nu`` for
        ``family="student_t"``), deterministics ``mu`` and ``sigma`` and the observed
        ``y``. It has no custom initial values (they would
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
    elif not spec.priors.is_resolved_for(spec.family):
        spec = MixtureSpec(spec.n_components, spec.priors.resolve(y, spec.family), spec.family)
    if spec.n_components > y.size:
        raise ValueError(
            f"n_components={spec.n_components} but only {y.size} observations; need at "
            "least n_components observations"
        )
    k, p, family = spec.n_components, spec.priors, spec.components_family
    coords = {"component": np.arange(k), "obs": np.arange(y.size)}
    # Every number that depends on the data or the priors enters as a shared variable,
    # not a constant: the compiled graph then depends only on the family, K and the
    # sigma prior, so one compiled sampler serves every data set (bayesmix.sampling.compiled).
    shared = {name: pytensor.shared(v, name=name) for name, v in shared_values(y, spec).items()}
    standardise, hyper = shared[SHARED_STANDARDISE], shared[SHARED_PRIORS]
    with pm.Model(coords=coords) as model:
        if k == 1:
            weights = pm.Deterministic("weights", pm.math.ones(1), dims="component")
        else:
            weights = pm.Dirichlet("weights", a=shared[SHARED_ALPHA], dims="component")
        ordering = {"transform": ordered} if k > 1 else {}
        mu_z = pm.Normal("mu_z", mu=hyper[0], sigma=hyper[1], dims="component", **ordering)
        sigma_z = _sigma_prior(p.sigma_prior, hyper[2])
        extra = family.declare_extra_priors(shared, k)
        sampled = [mu_z, sigma_z, *(extra[q.name] for q in family.parameters[2:])]
        on_data = [
            pm.Deterministic(
                q.name, q.to_data(v, standardise[0], standardise[1]), dims="component"
            )
            if q.scaling != "none"
            else v
            for q, v in zip(family.parameters, sampled, strict=True)
        ]
        observed = shared[SHARED_OBSERVED]
        if pointwise:
            pm.Mixture(
                "y", w=weights, comp_dists=family.component_dist(*on_data),
                observed=observed, dims="obs",
            )  # fmt: skip
        else:
            _observed_mixture(family, observed, standardise, weights, sampled)
    return model


def shared_values(y: np.ndarray, spec: MixtureSpec) -> dict[str, np.ndarray]:
    """Return the values :func:`build_model` gives its shared variables, by name.

    ``y`` must be validated and ``spec`` resolved. A compiled sampler of the model takes
    new data and priors through these names (nutpie's ``with_data``).
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
        # K = 1 has no Dirichlet, so no concentrations
        **(
            {SHARED_ALPHA: np.full(spec.n_components, p.weights_concentration)}
            if spec.n_components > 1
            else {}
        ),
        **spec.components_family.hyper_values(p),
    }


def _observed_mixture(
    family: Family, observed: Any, standardise: Any, weights: Any, sampled: list[Any]
) -> None:
    """Declare the observed ``y`` with the family's fused likelihood.

    The log density is evaluated on the standardised scale (no cancellation for data
    offset by 1e9) as one scalar over all observations, which is all NUTS needs; the
    generative graph (prior and posterior predictive draws) is ``pm.Mixture`` of the
    family's ``component_dist``.
    """

    def logp(value: Any, w: Any, *theta: Any) -> Any:
        a = pt.log(w) + family.log_normaliser(*theta)
        loglik = fused_loglik(family.name, value, standardise, a, pt.stack(theta))
        return loglik - value.shape[0] * pt.log(standardise[1])

    # numbers, not the shared variable: a CustomDist's generative graph may not read
    # shared variables, and it serves forward draws only, never the log density
    loc, scale = (float(v) for v in standardise.get_value())

    def dist(w: Any, *args: Any) -> Any:
        *theta, size = args
        mixture = pm.Mixture.dist(w=w, comp_dists=family.component_dist(*theta), size=size)
        return loc + scale * mixture

    inputs = ",".join(["(k)"] * (len(sampled) + 1))
    pm.CustomDist(
        "y",
        weights,
        *sampled,
        dist=dist,
        logp=logp,
        signature=f"{inputs}->()",
        observed=observed,
        dims="obs",
    )
