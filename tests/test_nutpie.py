"""nutpie called directly: start transforms, and draws that do not depend on the cache."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from pymc.initial_point import make_initial_point_fn

import bayesmix as bm
from bayesmix import _nutpie
from bayesmix.model import build_model, start_values

pytest.importorskip("nutpie")


@pytest.mark.parametrize("k", [1, 2, 4])
def test_start_transform_matches_pymc(k: int) -> None:
    y = bm.simulate_mixture(200, np.ones(4) / 4, [-6.0, -2.0, 2.0, 6.0], np.ones(4), random_seed=k)
    model = build_model(y, k)
    free = {rv.name for rv in model.free_RVs}
    spec = bm.MixtureSpec.from_data(y, k)
    start = {name: v for name, v in start_values(y, spec).items() if name in free}
    theirs = make_initial_point_fn(
        model=model, overrides=start, jitter_rvs=set(), return_transformed=True
    )(0)
    expected = np.concatenate(
        [theirs[model.rvs_to_values[rv].name].ravel() for rv in model.free_RVs]
    )
    np.testing.assert_allclose(_nutpie.unconstrained(model, start), expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")  # 50 draws: not the point
def test_draws_do_not_depend_on_the_compiled_model_cache() -> None:
    """A fit after another data set's fit (compiled code reused) equals a fresh one."""
    a = bm.simulate_mixture(150, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=1)
    b = bm.simulate_mixture(90, [0.3, 0.7], [-3.0, 8.0], [2.0, 0.5], random_seed=2)
    opts = {"draws": 50, "tune": 50, "chains": 2, "random_seed": 3, "progressbar": False}
    _nutpie._COMPILED.clear()
    fresh = bm.fit(b, 2, sampler="nutpie", **opts)
    bm.fit(a, 2, sampler="nutpie", **opts)  # the cache now holds a's data
    reused = bm.fit(b, 2, sampler="nutpie", **opts)
    for name in ("weights", "mu", "sigma"):
        np.testing.assert_array_equal(fresh.idata.posterior[name], reused.idata.posterior[name])
    # and the deterministics are computed from b's standardisation, not a's
    assert np.all(np.abs(reused.idata.posterior["mu"].mean(("chain", "draw")) - [-3, 8]) < 1.0)


@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")  # 50 draws: not the point
def test_an_extended_model_is_compiled_from_its_pymc_graph() -> None:
    """A user's extension (here a Potential) must be sampled, not the built-in posterior."""
    import pymc as pm

    y = bm.simulate_mixture(120, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=4)
    spec = bm.MixtureSpec.from_data(y, 2)
    model = build_model(y, spec)
    assert _nutpie._structure(model) == _nutpie._standard_structure(2, model)
    with model:
        pm.Potential("pull_together", -50.0 * (model["mu_z"][1] - model["mu_z"][0]) ** 2)
    assert _nutpie._structure(model) != _nutpie._standard_structure(2, model)
    settings = bm.SamplerSettings(draws=50, tune=50, chains=2, target_accept=0.9,
                                  random_seed=1, sampler="nutpie")  # fmt: skip
    _nutpie._COMPILED.clear()
    tree = bm.sample(model, y, spec, settings, progressbar=False)
    assert len(_nutpie._COMPILED) == 1
    gap = tree.posterior["mu_z"].sel(component=1) - tree.posterior["mu_z"].sel(component=0)
    assert float(gap.mean()) < 0.5  # the potential pulled the means together (unpulled: ~2.5)
    # the same structure with another constant is another model, not a cache hit
    other = build_model(y, spec)
    with other:
        pm.Potential("pull_together", -0.0 * (other["mu_z"][1] - other["mu_z"][0]) ** 2)
    tree = bm.sample(other, y, spec, settings, progressbar=False)
    assert len(_nutpie._COMPILED) == 2
    gap = tree.posterior["mu_z"].sel(component=1) - tree.posterior["mu_z"].sel(component=0)
    assert float(gap.mean()) > 1.5


@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")  # 50 draws: not the point
@pytest.mark.parametrize("k", [1, 3])
def test_the_direct_path_needs_no_model_and_gives_the_models_tree(k: int) -> None:
    """sample(None, ...) equals sampling build_model(y, spec): draws, groups and attrs."""
    y = bm.simulate_mixture(120, [0.3, 0.4, 0.3], [-4.0, 0.0, 4.0], [1.0] * 3, random_seed=5)
    spec = bm.MixtureSpec.from_data(y, k, bm.Priors(sigma_prior="gamma"))
    settings = bm.SamplerSettings(draws=30, tune=30, chains=2, target_accept=0.9,
                                  random_seed=2, sampler="nutpie")  # fmt: skip
    built = bm.sample(build_model(y, spec), y, spec, settings, progressbar=False)
    direct = bm.sample(None, y, spec, settings, progressbar=False)
    assert set(direct.children) == set(built.children)
    for name in ("weights", "mu", "sigma", "mu_z", "sigma_z"):
        np.testing.assert_array_equal(direct.posterior[name], built.posterior[name])
    np.testing.assert_array_equal(direct.observed_data["y"], y)
    assert direct.observed_data["y"].dims == built.observed_data["y"].dims == ("obs",)
    assert set(built.posterior.attrs) <= set(direct.posterior.attrs)
    assert direct.posterior.attrs["tuning_steps"] == 30


@pytest.mark.filterwarnings("ignore::bayesmix.ConvergenceWarning")
def test_fit_builds_the_pymc_model_only_when_asked() -> None:
    y = bm.simulate_mixture(100, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=6)
    res = bm.fit(y, 2, draws=30, tune=30, chains=2, random_seed=1, progressbar=False)
    assert res._model is None
    assert {rv.name for rv in res.model.free_RVs} == {"weights", "mu_z", "sigma_z"}


def test_our_trace_conversion_gives_nutpies_tree() -> None:
    """trace_to_tree: nutpie's own DataTree (variables, values, dtypes, dims, attrs)."""
    import nutpie

    from bayesmix._nutpie_trace import trace_to_tree
    from bayesmix._posterior import FAMILY_CODES
    from bayesmix.model import shared_values

    y = bm.simulate_mixture(200, [0.3, 0.4, 0.3], [-4.0, 0.0, 4.0], [1.0] * 3, random_seed=2)
    spec = bm.MixtureSpec.from_data(y, 3)
    start_fn = _nutpie._start_function(_nutpie._standard_layout(3), start_values(y, spec), 1)

    def compiled() -> object:
        return _nutpie._direct_model(
            shared_values(y, spec), 3, FAMILY_CODES["halfnormal"], start_fn
        )

    kwargs = {"draws": 60, "tune": 40, "chains": 3, "cores": 2, "seed": 4, "progress_bar": False}
    theirs = nutpie.sample(compiled(), **kwargs)
    sampler = nutpie.sample(compiled(), blocking=False, return_raw_trace=True, **kwargs)
    ours = trace_to_tree(
        sampler.wait(), list(_nutpie._DIRECT_NAMES), 3, sampler._settings.as_dict()
    )
    assert set(ours.children) == {"posterior", "sample_stats"}
    for group in ("posterior", "sample_stats"):
        a, b = theirs[group].to_dataset(), ours[group].to_dataset()
        assert list(a.data_vars) == list(b.data_vars)
        for name in a.data_vars:
            assert a[name].dtype == b[name].dtype, name
            xr.testing.assert_identical(a[name].drop_attrs(), b[name].drop_attrs())
        assert set(a.attrs) == set(b.attrs)
        assert {k: v for k, v in a.attrs.items() if k != "created_at"} == {
            k: v for k, v in b.attrs.items() if k != "created_at"
        }
