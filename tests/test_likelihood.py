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


def _scipy_log_density(
    x: np.ndarray, w: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """log sum_k w_sk N(x_i | mu_sk, sigma_sk) by SciPy, shape (S, n): the reference."""
    with np.errstate(divide="ignore"):
        terms = np.log(w)[:, None, :] + stats.norm.logpdf(
            x[None, :, None], mu[:, None], sigma[:, None]
        )
    return logsumexp(terms, axis=-1)


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
    ref = _scipy_log_density(x, w, mu, sigma)
    np.testing.assert_allclose(out, ref, rtol=1e-13)


def test_log_density_rows_wide_range_matches_scipy() -> None:
    """Means and sigmas over orders of magnitude, points far out, weights that underflowed."""
    from bayesmix.likelihood import log_density_rows

    rng = np.random.default_rng(11)
    s, k = 60, 3
    w = rng.dirichlet(np.full(k, 0.3), size=s)
    w[:10, 0], w[10:20, 1], w[20:30, 2] = 0.0, 1e-300, 5e-324
    w /= w.sum(axis=1, keepdims=True)
    mu = rng.normal(0, 50, (s, k))
    sigma = np.exp(rng.uniform(np.log(0.01), np.log(10), (s, k)))
    x = np.concatenate([rng.normal(0, 30, 150), rng.uniform(-1e4, 1e4, 20), [1e3, -1e3, 1e5]])
    out = np.empty((s, x.size))
    with np.errstate(divide="ignore"):
        log_density_rows(x, np.log(w), mu, sigma, out)
    ref = _scipy_log_density(x, w, mu, sigma)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13)
    # a point 1e3 sds from two unit components
    one = np.empty((1, 2))
    x = np.array([1e3, -2e3])
    log_density_rows(x, np.log([[0.5, 0.5]]), np.array([[-1.0, 1.0]]), np.ones((1, 2)), one)
    ref = logsumexp(np.log(0.5) + stats.norm.logpdf(x[:, None], [-1.0, 1.0], 1.0), axis=1)
    np.testing.assert_allclose(one[0], ref, rtol=1e-15)


def test_inline_log_is_within_one_ulp_of_numpy() -> None:
    """The vectorised log of the row kernel, on every binade and both sides of its splits."""
    import numba

    from bayesmix.likelihood import _BLOCK, _FASTMATH, _log_block

    # the caller's flags apply to inlined code: those of _mixture_rows
    @numba.njit(fastmath=_FASTMATH, error_model="numpy")
    def log_all(values: np.ndarray) -> np.ndarray:
        out = values.copy()
        buf = np.empty(_BLOCK)
        bits = np.empty(_BLOCK, dtype=np.int64)
        for start in range(0, out.size, _BLOCK):
            m = min(_BLOCK, out.size - start)
            for i in range(m):
                buf[i] = out[start + i]
            _log_block(buf, bits, bits.view(np.float64), m)
            for i in range(m):
                out[start + i] = buf[i]
        return out

    rng = np.random.default_rng(5)
    tiny, huge = np.finfo(np.float64).tiny, np.finfo(np.float64).max
    pow2 = 2.0 ** np.arange(-1022, 1024)
    edges = np.concatenate([pow2, pow2 * np.sqrt(2.0), pow2 * np.sqrt(0.5)])
    edges = np.concatenate([edges, np.nextafter(edges, 0.0), np.nextafter(edges, np.inf)])
    x = np.concatenate(
        [
            [1.0, 2.0, 3.0, 12.0, tiny, huge, np.nextafter(1.0, 0.0), np.nextafter(1.0, 2.0)],
            edges[np.isfinite(edges) & (edges >= tiny)],
            1.0 + rng.uniform(-1e-6, 1e-6, 10_000),  # log near 0: relative accuracy
            rng.uniform(1.0, 12.0, 100_000),  # the sums of the row kernel lie in [1, K]
            np.exp(rng.uniform(np.log(tiny), np.log(huge), 100_000)),
        ]
    )
    ours = log_all(x)
    np.testing.assert_array_max_ulp(ours, np.log(x), maxulp=1)
    assert ours[0] == 0.0
    assert np.isnan(log_all(np.array([np.nan]))[0])
