"""Structural tests of the priors, the spec and the PyMC model (no NUTS)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from arviz_base import from_dict

import bayesmix as bm
from bayesmix.model import start_values
from bayesmix.posterior import density as dens


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    return bm.simulate_mixture(300, [0.3, 0.7], [-2.0, 3.0], [1.0, 0.5], random_seed=5)


def test_default_priors_are_scaled_to_the_data(y: np.ndarray) -> None:
    p = bm.Priors().resolve(y)
    assert p.weights_concentration == 1.0
    assert p.mu_loc == pytest.approx(np.mean(y), rel=1e-15)
    assert p.mu_scale == pytest.approx(2.0 * np.std(y), rel=1e-15)
    assert p.sigma_scale == pytest.approx(np.std(y), rel=1e-15)
    assert p.is_resolved and not bm.Priors().is_resolved


def test_resolved_priors_are_equivariant(y: np.ndarray) -> None:
    a, b = 3.5, -100.0
    p, q = bm.Priors().resolve(y), bm.Priors().resolve(a * y + b)
    assert q.mu_loc == pytest.approx(a * p.mu_loc + b)
    assert q.mu_scale == pytest.approx(a * p.mu_scale)
    assert q.sigma_scale == pytest.approx(a * p.sigma_scale)


def test_user_priors_are_kept(y: np.ndarray) -> None:
    p = bm.Priors(mu_scale=10, weights_concentration=0.5).resolve(y)
    assert p.mu_scale == 10.0 and p.weights_concentration == 0.5
    assert bm.MixtureSpec.from_data(y, 2, {"sigma_scale": 2.0}).priors.sigma_scale == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights_concentration": 0}, "weights_concentration=0 must be a positive"),
        ({"mu_scale": float("inf")}, "mu_scale=inf"),
        ({"sigma_scale": "1"}, "sigma_scale='1' must be a positive number"),
        ({"mu_loc": float("nan")}, "mu_loc=nan must be a finite number"),
    ],
)
def test_bad_priors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        bm.Priors(**kwargs)  # type: ignore[arg-type]


def test_spec_round_trips_through_dict(y: np.ndarray) -> None:
    spec = bm.MixtureSpec.from_data(y, 3, bm.Priors(mu_scale=4.0))
    assert bm.MixtureSpec.from_dict(spec.to_dict()) == spec


def test_model_structure(y: np.ndarray) -> None:
    model = bm.build_model(y, 2)
    assert sorted(rv.name for rv in model.free_RVs) == ["mu_z", "sigma_z", "weights"]
    assert sorted(d.name for d in model.deterministics) == ["mu", "sigma"]
    assert [rv.name for rv in model.observed_RVs] == ["y"]
    assert model.named_vars_to_dims["mu"] == ("component",)
    assert model.named_vars_to_dims["y"] == ("obs",)
    np.testing.assert_array_equal(model.coords["component"], [0, 1])
    assert len(model.coords["obs"]) == y.size


def _value_point(model: pm.Model, start: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map constrained start values to the model's (transformed) value variables."""
    point = {}
    for rv in model.free_RVs:
        value_var = model.rvs_to_values[rv]
        transform = model.rvs_to_transforms[rv]
        v = start[rv.name]
        point[value_var.name] = transform.forward(v).eval() if transform else v
    return point


@pytest.mark.parametrize("k", [1, 2, 4])
def test_logp_is_finite_at_the_start(y: np.ndarray, k: int) -> None:
    spec = bm.MixtureSpec.from_data(y, k)
    model = bm.build_model(y, spec)
    start = start_values(y, spec)
    assert np.all(np.diff(start["mu_z"]) > 0)
    logp = model.compile_logp()(_value_point(model, start))
    assert np.isfinite(logp)


def test_start_is_strictly_ordered_for_heavily_tied_data() -> None:
    y = np.repeat([1.0, 2.0], 50)
    start = start_values(y, bm.MixtureSpec.from_data(y, 4))
    assert np.all(np.diff(start["mu_z"]) > 0)
    assert np.all(start["sigma_z"] > 0)


def test_kmeans_start_finds_separated_centres(y: np.ndarray) -> None:
    start = start_values(y, bm.MixtureSpec.from_data(y, 2))
    loc, scale = np.mean(y), np.std(y)
    np.testing.assert_allclose(loc + scale * start["mu_z"], [-2.0, 3.0], atol=0.3)
    np.testing.assert_allclose(start["weights"], [0.3, 0.7], atol=0.06)


def test_single_component_is_a_normal(y: np.ndarray) -> None:
    model = bm.build_model(y, 1)
    assert sorted(rv.name for rv in model.free_RVs) == ["mu_z", "sigma_z"]
    point = _value_point(model, {"mu_z": np.array([0.3]), "sigma_z": np.array([0.9])})
    loc, scale = np.mean(y), np.std(y)
    obs_logp = model.compile_fn(
        model.logp(vars=model.observed_RVs), inputs=model.value_vars, on_unused_input="ignore"
    )(point)
    expected = np.sum(
        -0.5 * ((y - loc - 0.3 * scale) / (0.9 * scale)) ** 2
        - np.log(0.9 * scale)
        - 0.5 * np.log(2 * np.pi)
    )
    assert obs_logp == pytest.approx(expected, rel=1e-12)


def _reference_model(y: np.ndarray, k: int) -> pm.Model:
    """The textbook PyMC mixture (pm.NormalMixture on the data scale) with our priors."""
    p = bm.Priors().resolve(y)
    loc, scale = np.mean(y), np.std(y)
    with pm.Model(coords={"component": np.arange(k), "obs": np.arange(y.size)}) as model:
        w = pm.Dirichlet("weights", a=np.ones(k), dims="component")
        mu_z = pm.Normal(
            "mu_z",
            (p.mu_loc - loc) / scale,
            p.mu_scale / scale,
            dims="component",
            transform=pm.distributions.transforms.ordered,
        )
        sigma_z = pm.HalfNormal("sigma_z", p.sigma_scale / scale, dims="component")
        pm.NormalMixture("y", w, loc + scale * mu_z, scale * sigma_z, observed=y, dims="obs")
    return model


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_fused_model_matches_textbook_model(y: np.ndarray, k: int, offset: float) -> None:
    """Our model's log density and gradient equal pm.NormalMixture's at random points."""
    y = y + offset
    ours, ref = bm.build_model(y, k), _reference_model(y, k)
    f_ours, f_ref = ours.compile_logp(), ref.compile_logp()
    g_ours, g_ref = ours.compile_dlogp(), ref.compile_dlogp()
    rng = np.random.default_rng(k)
    for _ in range(5):
        point = {
            "weights_simplex__": rng.normal(0, 0.5, k - 1),
            "mu_z_ordered__": np.concatenate([[rng.normal(-1, 0.3)], rng.normal(0, 0.3, k - 1)]),
            "sigma_z_log__": rng.normal(-0.5, 0.3, k),
        }
        # 1e9 offsets: the textbook model subtracts 1e9-sized numbers (relative error
        # ~1e-7 of each term); ours works on the standardised scale.
        rtol = 1e-10 if offset == 0 else 1e-5
        assert f_ours(point) == pytest.approx(f_ref(point), rel=rtol)
        np.testing.assert_allclose(g_ours(point), g_ref(point), rtol=rtol, atol=1e-8)


def test_numpy_log_likelihood_matches_pymc(y: np.ndarray) -> None:
    """Our pointwise log-likelihood (used for LOO) equals PyMC's for the same draws."""
    rng = np.random.default_rng(0)
    model = _reference_model(y, 2)
    chains, draws = 2, 5
    loc, scale = np.mean(y), np.std(y)
    w = rng.dirichlet([3.0, 7.0], size=(chains, draws))
    mu_z = np.sort(rng.normal([-1.0, 1.0], 0.1, size=(chains, draws, 2)), axis=-1)
    sigma_z = rng.uniform(0.2, 0.5, size=(chains, draws, 2))
    tree = from_dict(
        {"posterior": {"weights": w, "mu_z": mu_z, "sigma_z": sigma_z}},
        dims={v: ["component"] for v in ("weights", "mu_z", "sigma_z")},
        coords={"component": [0, 1]},
    )
    ll = pm.compute_log_likelihood(tree, model=model, progressbar=False)
    theirs = ll["log_likelihood"]["y"].values.reshape(chains * draws, y.size)
    ours = dens.pointwise_log_lik(
        y,
        dens.Draws.normal(
            w.reshape(-1, 2), (loc + scale * mu_z).reshape(-1, 2), (scale * sigma_z).reshape(-1, 2)
        ),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_too_many_components_for_the_data() -> None:
    with pytest.raises(ValueError, match="n_components=5 but only 3 observations"):
        bm.build_model([1.0, 2.0, 3.0], 5)
