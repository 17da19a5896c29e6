"""The hand-written log posterior for nutpie equals the PyMC model's, value and gradient."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import pytest

import bayesmix as bm
from bayesmix._nutpie import _shared_values
from bayesmix._posterior import (
    FAMILY_CODES,
    callback_data,
    constrain,
    expand_callback,
    log_posterior,
    logp_callback,
)
from bayesmix.model import (
    SHARED_ALPHA,
    SHARED_OBSERVED,
    SHARED_PRIORS,
    SHARED_STANDARDISE,
    build_model,
)


@pytest.mark.parametrize("family", ["halfnormal", "gamma", "invgamma"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_log_posterior_matches_the_pymc_model(k: int, family: str) -> None:
    y = bm.simulate_mixture(150, [0.5, 0.5], [0.0, 6.0], [1.0, 2.0], random_seed=k) + 1e6
    priors = bm.Priors(sigma_prior=family, weights_concentration=0.7)
    model = build_model(y, bm.MixtureSpec.from_data(y, k, priors))
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    shared = _shared_values(model)
    alpha = shared.get(SHARED_ALPHA, np.ones(k))
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    sizes = [k - 1 if n.endswith("simplex__") else k for n in names]
    rng = np.random.default_rng(k)
    for _ in range(5):
        x = rng.normal(0, 0.7, sum(sizes))
        point = dict(zip(names, np.split(x, np.cumsum(sizes)[:-1]), strict=True))
        ours, grad = log_posterior(
            x, shared[SHARED_OBSERVED], shared[SHARED_STANDARDISE], shared[SHARED_PRIORS],
            alpha, FAMILY_CODES[family],
        )  # fmt: skip
        assert ours == pytest.approx(float(logp(point)), rel=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-8, atol=1e-8)


def test_constrain_inverts_the_start_transform() -> None:
    from bayesmix._nutpie import unconstrained

    y = bm.simulate_mixture(100, [0.3, 0.7], [0.0, 5.0], [1.0, 1.0], random_seed=0)
    model = build_model(y, 3)
    start = {"weights": np.array([0.2, 0.3, 0.5]), "mu_z": np.array([-1.0, 0.1, 2.0]),
             "sigma_z": np.array([0.3, 0.5, 0.7])}  # fmt: skip
    w, mu, sigma = constrain(unconstrained(model, start), 3)
    np.testing.assert_allclose(w, start["weights"], rtol=1e-12)
    np.testing.assert_allclose(mu, start["mu_z"], rtol=1e-12)
    np.testing.assert_allclose(sigma, start["sigma_z"], rtol=1e-12)


def _pointer(a: np.ndarray) -> Any:
    if a.dtype == np.float64:
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
    return ctypes.c_void_p(a.ctypes.data)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_c_callbacks_match_the_numba_function(k: int) -> None:
    """nutpie's C entry points give log_posterior's numbers and the deterministics."""
    y = bm.simulate_mixture(300, [0.5, 0.5], [0.0, 6.0], [1.0, 2.0], random_seed=k) * 3 + 7
    loc_scale, priors_z = np.array([y.mean(), y.std()]), np.array([0.1, 1.5, 0.8])
    alpha = np.linspace(0.5, 2.0, k)
    header, y_c, params = callback_data(y, loc_scale, priors_z, alpha, FAMILY_CODES["gamma"])
    dim = 3 * k - 1 if k > 1 else 2
    x = np.random.default_rng(k).normal(0, 0.5, dim)
    grad, logp = np.zeros(dim), np.zeros(1)
    code = logp_callback.ctypes(dim, _pointer(x), _pointer(grad), _pointer(logp), _pointer(header))
    expected, expected_grad = log_posterior(x, y, loc_scale, priors_z, alpha, 1)
    assert code == 0
    assert logp[0] == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-14)

    out = np.zeros(5 * k)
    assert expand_callback.ctypes(dim, 5 * k, _pointer(x), _pointer(out), _pointer(header)) == 0
    w, mu_z, sigma_z = constrain(x, k)
    np.testing.assert_allclose(
        out, np.concatenate([w, mu_z, sigma_z, loc_scale[0] + loc_scale[1] * mu_z,
                             loc_scale[1] * sigma_z]), rtol=1e-15,
    )  # fmt: skip
    # a wrong output size is refused, not written past
    assert (
        expand_callback.ctypes(dim, 5 * k + 1, _pointer(x), _pointer(out), _pointer(header)) == -1
    )


def test_c_callback_flags_a_non_finite_point_as_recoverable() -> None:
    y = np.array([0.0, 1.0, 2.0, 10.0])
    header, _, _ = callback_data(
        y, np.array([3.25, 4.0]), np.array([0.0, 1.0, 1.0]), np.ones(2), 0
    )
    x = np.array([0.0, 0.0, 800.0, 0.0, 0.0])  # a gap of exp(800): overflow
    grad, logp = np.zeros(5), np.zeros(1)
    code = logp_callback.ctypes(5, _pointer(x), _pointer(grad), _pointer(logp), _pointer(header))
    assert code in (3, 4)  # nutpie treats positive codes as a divergence, not a crash
