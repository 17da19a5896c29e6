"""Each family's forms of its density agree with PyMC's, and every sampler samples the model.

The PyMC model is the one truth: the fused likelihood the samplers evaluate equals
``pm.logp`` of ``pm.Mixture`` of the family's ``component_dist`` (value and gradient),
the family's NumPy log density equals ``pm.logp`` of one component, and the log density
each sampler reports at its draws is the model's ``compile_logp`` there.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from pymc.initial_point import make_initial_point_fn
from scipy import stats
from scipy.special import logsumexp

import bayesmix as bm
from bayesmix.families import FAMILIES, get_family
from bayesmix.families.pointwise import log_density_draws
from bayesmix.model import build_model, start_values
from bayesmix.sampling import SamplerSettings

FAMILY_NAMES = sorted(FAMILIES)
Y = bm.simulate_mixture(300, [0.3, 0.7], [0.0, 4.0], [1.0, 1.5], random_seed=0)


def _points(model: pm.Model, spec: bm.MixtureSpec, n: int, seed: int) -> list[dict]:
    """Random points (unconstrained values) scattered around the k-means start."""
    start = start_values(Y, spec)
    fn = make_initial_point_fn(
        model=model, overrides=start, jitter_rvs=set(), return_transformed=True
    )
    centre = fn(0)
    rng = np.random.default_rng(seed)
    return [{k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in centre.items()} for _ in range(n)]


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("k", [1, 3])
def test_fused_likelihood_equals_pm_mixture(family: str, k: int) -> None:
    spec = bm.MixtureSpec.from_data(Y, k, family=family)
    fused, pointwise = build_model(Y, spec), build_model(Y, spec, pointwise=True)
    assert [v.name for v in fused.value_vars] == [v.name for v in pointwise.value_vars]
    logp_f, logp_p = fused.compile_logp(), pointwise.compile_logp()
    dlogp_f, dlogp_p = fused.compile_dlogp(), pointwise.compile_dlogp()
    for point in _points(fused, spec, 5, seed=k):
        a, b = logp_f(point), logp_p(point)
        assert np.isfinite(a)
        np.testing.assert_allclose(a, b, rtol=1e-11)
        np.testing.assert_allclose(dlogp_f(point), dlogp_p(point), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_numpy_logpdf_equals_pm_logp(family: str) -> None:
    fam = get_family(family)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, 50)
    params = [rng.normal(0, 1, 50), rng.uniform(0.5, 2, 50), rng.uniform(1, 30, 50)]
    params = params[: len(fam.parameters)]
    expected = pm.logp(fam.component_dist(*params), x).eval()
    np.testing.assert_allclose(fam.logpdf(x, *params), expected, rtol=1e-12)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_kernel_log_density_of_draws_equals_numpy(family: str) -> None:
    # The density band, pdf and pointwise log-likelihood path: the family's block kernel
    # with its constant taken at the location, against log-sum-exp of the NumPy logpdf.
    fam = get_family(family)
    rng = np.random.default_rng(3)
    s, k = 40, 3
    weights = rng.dirichlet([2.0] * k, s)
    weights[0] = [0.0, 0.5, 0.5]  # an empty component: weight 0, log weight -inf
    params = (
        np.sort(rng.normal(0, 3, (s, k)), axis=1),
        rng.uniform(0.2, 3.0, (s, k)),
        rng.uniform(0.6, 40.0, (s, k)),
    )[: len(fam.parameters)]
    x = np.r_[np.linspace(-30, 30, 150), 1e-3, 1e4]  # past a block; far tails
    with np.errstate(divide="ignore"):
        joint = np.log(weights)[:, None, :] + fam.logpdf(
            x[None, :, None], *(p[:, None, :] for p in params)
        )
    expected = logsumexp(joint, axis=2)
    got = log_density_draws(x, fam, weights, params)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_rvs_follow_the_density(family: str) -> None:
    fam = get_family(family)
    params = (1.0, 2.0, 4.0)[: len(fam.parameters)]
    draws = fam.rvs(np.random.default_rng(2), *(np.full(20_000, v) for v in params))
    reference = {
        "normal": stats.norm(1.0, 2.0),
        "student_t": stats.t(4.0, 1.0, 2.0),
    }[family]
    # KS at n = 20,000: a wrong family or scale gives p ~ 0; the right one p ~ U(0, 1)
    assert stats.kstest(draws, reference.cdf).pvalue > 1e-3


def test_unknown_family_and_foreign_priors_are_clear_errors() -> None:
    unknown = r"family='cauchy' is not one of \['normal', 'student_t'\]"
    with pytest.raises(ValueError, match=unknown):
        bm.fit(Y, 2, family="cauchy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="apply to family='student_t' only"):
        bm.fit(Y, 2, priors=bm.Priors(nu_shape=3.0))


def test_student_t_priors_are_resolved_and_recorded() -> None:
    spec = bm.MixtureSpec.from_data(Y, 2, family="student_t")
    assert (spec.priors.nu_shape, spec.priors.nu_rate) == (2.0, 0.1)
    assert bm.MixtureSpec.from_dict(spec.to_dict()) == spec
    normal = bm.MixtureSpec.from_data(Y, 2)
    assert normal.priors.nu_shape is None


def _unconstrained_draws(model: pm.Model, idata, n: int) -> list[dict]:
    """The first n posterior draws of chain 0, mapped to the model's value variables."""
    post = idata["posterior"]
    out = []
    for i in range(n):
        point = {}
        for rv in model.free_RVs:
            value = np.asarray(post[rv.name].isel(chain=0, draw=i).values)
            transform = model.rvs_to_transforms.get(rv)
            if transform is not None:
                value = transform.forward(value, *rv.owner.inputs).eval()
            point[model.rvs_to_values[rv].name] = value
        out.append(point)
    return out


def _sampled_logp(idata, sampler: str = "nutpie") -> np.ndarray:
    stats_ = idata["sample_stats"]
    name = "logp" if "logp" in stats_ else "lp"
    values = np.asarray(stats_[name].isel(chain=0).values)
    # PyMC 6 records numpyro's potential energy, -log density, as "lp" (blackjax's is
    # the log density itself)
    return -values if sampler == "numpyro" else values


SAMPLERS = ["nutpie", "pymc", "numpyro", "blackjax"]


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_samples_the_model_density(family: str, sampler: str) -> None:
    """The log density each sampler reports at its draws is the fused model's there."""
    if sampler in ("numpyro", "blackjax"):
        pytest.importorskip(sampler)
    spec = bm.MixtureSpec.from_data(Y, 2, family=family)
    settings = SamplerSettings(
        draws=30, tune=30, chains=1, target_accept=0.9, random_seed=5, sampler=sampler
    )
    idata = bm.sample(None, Y, spec, settings, progressbar=False)
    model = build_model(Y, spec)
    logp = model.compile_logp()
    points = _unconstrained_draws(model, idata, 10)
    expected = np.array([logp(p) for p in points])
    np.testing.assert_allclose(_sampled_logp(idata, sampler)[:10], expected, rtol=1e-8)


def test_an_extended_model_samples_its_own_posterior() -> None:
    """A changed model is sampled as itself, never as the standard one."""
    spec = bm.MixtureSpec.from_data(Y, 2)
    model = build_model(Y, spec)
    with model:
        # a user's prior pinning the gap between the means at 2 (the data say ~4)
        gap = model["mu"][1] - model["mu"][0]
        pm.Potential("gap_prior", pm.logp(pm.Normal.dist(2.0, 0.05), gap))
    settings = SamplerSettings(
        draws=200, tune=300, chains=2, target_accept=0.9, random_seed=7, sampler="nutpie"
    )
    idata = bm.sample(model, Y, spec, settings, progressbar=False)
    gap = idata["posterior"]["mu"].sel(component=1) - idata["posterior"]["mu"].sel(component=0)
    # the standard model's gap is ~4 (sd ~0.2): the extended one sits at the pinned 2
    assert abs(float(gap.mean()) - 2.0) < 0.1
    logp = model.compile_logp()
    expected = np.array([logp(p) for p in _unconstrained_draws(model, idata, 5)])
    np.testing.assert_allclose(_sampled_logp(idata)[:5], expected, rtol=1e-8)
