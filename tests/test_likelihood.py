"""The fused mixture log-likelihood kernel and its PyTensor Op, against SciPy."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from scipy.special import logsumexp

from bayesmix.likelihood import _kernel, mixture_loglik


def _reference(y, loc, scale, logw, mu, sigma) -> float:  # type: ignore[no-untyped-def]
    z = (y - loc) / scale
    return float(np.sum(logsumexp(logw + stats.norm.logpdf(z[:, None], mu, sigma), axis=1)))


def _case(n: int, k: int, seed: int) -> tuple:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    y = rng.normal(5.0, 3.0, n)
    logw = np.log(rng.dirichlet(np.ones(k)))
    return y, 5.0, 3.0, logw, np.sort(rng.normal(0, 1, k)), rng.uniform(0.1, 2.0, k)


@pytest.mark.parametrize(("n", "k"), [(1, 2), (63, 3), (64, 2), (65, 5), (1000, 3), (130, 12)])
def test_kernel_value_matches_scipy(n: int, k: int) -> None:
    """Every block-size edge (n around 64) and several K; the inline exp is exact to ~1e-15."""
    args = _case(n, k, n + k)
    total, *_ = _kernel(*args)
    assert total == pytest.approx(_reference(*args), rel=1e-13)


def test_kernel_gradient_matches_finite_differences() -> None:
    y, loc, scale, logw, mu, sigma = _case(200, 3, 7)
    _, g_w, g_mu, g_s = _kernel(y, loc, scale, logw, mu, sigma)
    h = 1e-6
    for grad, name in ((g_w, "logw"), (g_mu, "mu"), (g_s, "sigma")):
        for j in range(3):
            up = {"logw": logw.copy(), "mu": mu.copy(), "sigma": sigma.copy()}
            down = {"logw": logw.copy(), "mu": mu.copy(), "sigma": sigma.copy()}
            up[name][j] += h
            down[name][j] -= h
            fd = (
                _reference(y, loc, scale, up["logw"], up["mu"], up["sigma"])
                - _reference(y, loc, scale, down["logw"], down["mu"], down["sigma"])
            ) / (2 * h)
            assert grad[j] == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_far_tails_do_not_underflow() -> None:
    """A point 40 sigmas from every component still has a finite log-likelihood."""
    args = (np.array([1e3]), 0.0, 1.0, np.log([0.5, 0.5]), np.array([-1.0, 1.0]), np.ones(2))
    total, g_w, g_mu, g_s = _kernel(*args)
    assert total == pytest.approx(_reference(*args), rel=1e-12)
    assert np.all(np.isfinite(np.concatenate([g_w, g_mu, g_s])))


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_op_and_gradient_in_pytensor(mode: str) -> None:
    """The Op gives the kernel's value and its gradient through pytensor.grad, per linker."""
    y, loc, scale, logw, mu, sigma = _case(300, 3, 1)
    lw, m, s = pt.dvectors("lw", "m", "s")
    data = pytensor.shared(y)
    out = mixture_loglik(data, pytensor.shared(np.array([loc, scale])), lw, m, s)
    f = pytensor.function([lw, m, s], [out, *pytensor.grad(out, [lw, m, s])], mode=mode)
    total, g_w, g_mu, g_s = f(logw, mu, sigma)
    ref = _kernel(y, loc, scale, logw, mu, sigma)
    assert float(total) == pytest.approx(ref[0], rel=1e-14)
    for ours, theirs in zip((g_w, g_mu, g_s), ref[1:], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)


def test_op_rejects_matrices() -> None:
    with pytest.raises(ValueError, match="five vectors"):
        mixture_loglik(pt.dmatrix(), pt.dvector(), pt.dvector(), pt.dvector(), pt.dvector())


def test_log_density_rows_matches_scipy() -> None:
    """Per draw and point, including a weight that underflowed to exactly 0."""
    from bayesmix.likelihood import log_density_rows

    rng = np.random.default_rng(3)
    x = rng.normal(0, 5, 130)
    w = rng.dirichlet(np.ones(3), size=7)
    w[0] = [0.0, 0.5, 0.5]
    mu, sigma = rng.normal(0, 3, (7, 3)), rng.uniform(0.2, 3, (7, 3))
    out = np.empty((7, 130))
    with np.errstate(divide="ignore"):
        log_density_rows(x, np.log(w), mu, sigma, out)
        ref = logsumexp(
            np.log(w)[:, None, :]
            + stats.norm.logpdf(x[None, :, None], mu[:, None], sigma[:, None]),
            axis=-1,
        )
    np.testing.assert_allclose(out, ref, rtol=1e-13)
