"""Numerical extremes with real NUTS: each fits correctly or fails with a clear message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm

SMALL = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False, "random_seed": 5}


@pytest.fixture(scope="module")
def base_y() -> np.ndarray:
    return bm.simulate_mixture(300, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=12)


@pytest.fixture(scope="module")
def base_fit(base_y: np.ndarray) -> bm.MixtureResult:
    return _quiet_fit(base_y, 2)


def _quiet_fit(y: np.ndarray, k: int, **options: object) -> bm.MixtureResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.ConvergenceWarning)  # 2 x 500 draws: ESS ~ 400
        return bm.fit(y, k, **{**SMALL, **options})  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("a", "b"),
    [(1e-9, 0.0), (1e9, 0.0), (1.0, 1e9), (1e-6, -1e3)],
    ids=["scale 1e-9", "scale 1e9", "offset 1e9", "scale 1e-6 offset -1e3"],
)
def test_affine_extremes_are_equivariant(
    base_y: np.ndarray, base_fit: bm.MixtureResult, a: float, b: float
) -> None:
    moved = _quiet_fit(a * base_y + b, 2)
    # The sampled parameters live on the standardised scale: for the same seed they agree
    # with the unscaled fit up to the rounding of the standardised data.
    for name in ("weights", "mu_z", "sigma_z"):
        ours = moved.idata["posterior"][name].values
        ref = base_fit.idata["posterior"][name].values
        assert np.abs(ours.mean(axis=(0, 1)) - ref.mean(axis=(0, 1))).max() < 0.02, name
    table, ref_table = moved.components, base_fit.components
    np.testing.assert_allclose(table["mean"], a * ref_table["mean"] + b, rtol=1e-6, atol=0.02 * a)
    np.testing.assert_allclose(table["sigma"], a * ref_table["sigma"], rtol=0.02)
    x = a * np.linspace(-2, 7, 9) + b
    np.testing.assert_allclose(
        moved.pdf(x) * a, base_fit.pdf(np.linspace(-2, 7, 9)), rtol=0.02, atol=1e-4
    )


@pytest.mark.slow
def test_heavy_ties_fit() -> None:
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.integers(0, 3, 150), rng.integers(10, 13, 150)]).astype(float)
    res = _quiet_fit(y, 2)
    np.testing.assert_allclose(res.components["mean"], [1.0, 11.0], atol=0.2)
    assert np.isfinite(res.pdf(np.arange(-1.0, 14.0))).all()


@pytest.mark.slow
def test_heavy_tails_warn_or_fit() -> None:
    y = np.random.default_rng(4).standard_t(df=1.5, size=300)  # Cauchy-like
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = bm.fit(y, 2, **SMALL)  # type: ignore[arg-type]
    kinds = {type(w.message) for w in record}
    assert kinds <= {bm.ConvergenceWarning, bm.ComponentWarning}
    if not res.converged:  # it must say so
        assert bm.ConvergenceWarning in kinds
        return
    # Fitted: a narrow core plus a wide tail component, which predicts held-out data
    # better than one normal does.
    sigmas = res.components["sigma"].to_numpy()
    assert sigmas.max() > 3 * sigmas.min()
    held_out = np.random.default_rng(5).standard_t(df=1.5, size=2000)
    single = -0.5 * ((held_out - y.mean()) / y.std()) ** 2 - np.log(y.std() * np.sqrt(2 * np.pi))
    assert res.score_samples(held_out).mean() > single.mean() + 0.1


@pytest.mark.slow
def test_two_observations_per_component() -> None:
    y = np.array([0.0, 0.3, 10.0, 10.4])
    # two points are not a group, and the fit says so; it still separates them
    with pytest.warns(bm.ComponentWarning, match="holds only 2 of 4 observations"):
        res = _quiet_fit(y, 2)
    means = res.components["mean"].to_numpy()
    assert means[0] < 5 < means[1]


def test_fewer_observations_than_components_is_rejected() -> None:
    with pytest.raises(ValueError, match="n_components=3 but only 2 observations"):
        bm.fit([0.0, 1.0], 3, progressbar=False)
