"""The hand-written log posterior for nutpie equals the PyMC model's, value and gradient."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix as bm
from bayesmix._nutpie import _shared_values
from bayesmix._posterior import FAMILY_CODES, constrain, log_posterior
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
