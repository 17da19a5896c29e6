"""The model's log posterior and gradient on the unconstrained scale, as one numba function.

This is :func:`bayesmix.model.build_model`'s density written out, for nutpie: compiling
the PyMC graph into numba callbacks takes ~10 s in every fresh process, while this
function is compiled once per machine (numba's on-disk cache) in ~3 s. Tests check it
against ``model.compile_logp()`` and ``compile_dlogp()`` at random points, for every K
and sigma-prior family, so the PyMC model stays the definition.

nutpie calls it through C callbacks (:data:`logp_callback`, :data:`expand_callback`, in
the C ABI of nutpie's compiled PyMC models), so its Rust threads run every gradient
without the GIL or a Python frame: at N = 10^3 a Python callback doubled the wall time.

The unconstrained vector is PyMC's (and nutpie's) layout: ``weights_simplex__`` (K - 1,
PyMC's simplex transform; absent for K = 1), ``mu_z_ordered__`` (K; the identity for
K = 1), ``sigma_z_log__`` (K).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from bayesmix.likelihood import _kernel

__all__ = [
    "FAMILY_CODES",
    "callback_data",
    "constrain",
    "expand_callback",
    "log_posterior",
    "logp_callback",
]

#: sigma-prior families as the integers the compiled function takes.
FAMILY_CODES = {"halfnormal": 0, "gamma": 1, "invgamma": 2}
_LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True, nogil=True)
def constrain(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unconstrained vector to (weights, mu_z, sigma_z).

    Plain loops rather than NumPy array functions: each of those costs numba compile
    time, and this function is compiled in the first fit on a machine.
    """
    nw = k - 1 if k > 1 else 0
    w = np.ones(k)
    if k > 1:
        last = 0.0
        for j in range(nw):
            last -= x[j]
        top = last
        for j in range(nw):
            top = max(top, x[j])
        total = 0.0
        for j in range(k):
            w[j] = math.exp((x[j] if j < nw else last) - top)
            total += w[j]
        for j in range(k):
            w[j] /= total
    mu = np.empty(k)
    sigma = np.empty(k)
    mu[0] = x[nw]
    for j in range(1, k):
        mu[j] = mu[j - 1] + math.exp(x[nw + j])
    for j in range(k):
        sigma[j] = math.exp(x[nw + k + j])
    return w, mu, sigma


@numba.njit(cache=True, nogil=True)
def log_posterior(
    x: np.ndarray,
    y: np.ndarray,
    loc_scale: np.ndarray,
    priors_z: np.ndarray,
    alpha: np.ndarray,
    family: int,
) -> tuple[float, np.ndarray]:
    """Log posterior density (with PyMC's constants and Jacobians) and its gradient.

    ``loc_scale``, ``priors_z`` (mu prior loc and scale, sigma prior scale, all on the z
    scale) and ``alpha`` are the model's shared variables of the same names.
    """
    k = (x.shape[0] + 1) // 3
    nw = k - 1 if k > 1 else 0
    w, mu, sigma = constrain(x, k)
    logw = np.zeros(k)
    for j in range(k):
        logw[j] = math.log(w[j]) if k > 1 else 0.0
    loglik, g_logw, g_mu, g_sigma = _kernel(y, loc_scale[0], loc_scale[1], logw, mu, sigma)
    lp = loglik - y.shape[0] * math.log(loc_scale[1])
    grad = np.empty(x.shape[0])
    # weights: Dirichlet(alpha) and the simplex Jacobian (log K + sum log w)
    if k > 1:
        alpha_sum, total = 0.0, 0.0
        for j in range(k):
            alpha_sum += alpha[j]
            lp += (alpha[j] - 1.0) * logw[j] - math.lgamma(alpha[j]) + logw[j]
            total += alpha[j] + g_logw[j]
        lp += math.lgamma(alpha_sum) + math.log(k)
        # through log w = v - logsumexp(v), with v_K = -sum(x_w)
        d_last = alpha[k - 1] + g_logw[k - 1] - w[k - 1] * total
        for j in range(nw):
            grad[j] = alpha[j] + g_logw[j] - w[j] * total - d_last
    # means: Normal(m, s) each, ordered transform (Jacobian: sum of the log-gaps)
    m, s = priors_z[0], priors_z[1]
    tail = 0.0
    for j in range(k - 1, -1, -1):  # d mu_j / d x_i = exp(x_i) for j >= i >= 1
        u = (mu[j] - m) / s
        lp += -0.5 * u * u - math.log(s) - 0.5 * _LOG_2PI
        tail += -u / s + g_mu[j]
        if j == 0:
            grad[nw] = tail
        else:
            gap = mu[j] - mu[j - 1]
            lp += math.log(gap)
            grad[nw + j] = gap * tail + 1.0
    # sigmas: the family's prior, log transform (Jacobian: sum log sigma)
    scale = priors_z[2]
    for j in range(k):
        sj = sigma[j]
        if family == 1:  # Gamma(2, 2 / scale)
            b = 2.0 / scale
            lp += 2.0 * math.log(b) + math.log(sj) - b * sj
            d_s = 1.0 / sj - b
        elif family == 2:  # InverseGamma(3, 2 * scale)
            b = 2.0 * scale
            lp += 3.0 * math.log(b) - math.lgamma(3.0) - 4.0 * math.log(sj) - b / sj
            d_s = -4.0 / sj + b / (sj * sj)
        else:  # HalfNormal(scale)
            u = sj / scale
            lp += -0.5 * u * u + 0.5 * math.log(2.0 / math.pi) - math.log(scale)
            d_s = -u / scale
        lp += math.log(sj)
        grad[nw + k + j] = sj * (d_s + g_sigma[j]) + 1.0
    return lp, grad


# -- nutpie's C ABI ------------------------------------------------------------------------
# The callbacks' user data is a uint64 array (address of y, N, address of params, len):
# params = (family, loc, scale, mu prior loc, mu prior scale, sigma prior scale, alpha...).
# Both arrays must outlive the sampler; the nutpie model object holds them.
_LOGP_SIGNATURE = types.int64(
    types.uint64, types.CPointer(types.double), types.CPointer(types.double),
    types.CPointer(types.double), types.voidptr,
)  # fmt: skip
_EXPAND_SIGNATURE = types.int64(
    types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
    types.voidptr,
)  # fmt: skip


def _pointer_typing(typingctx: Any, address: Any) -> tuple[Any, Any]:
    """Reinterpret an integer address as a ``void *`` (a numba intrinsic)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


_pointer: Any = intrinsic(_pointer_typing)


def callback_data(
    y: np.ndarray, loc_scale: np.ndarray, priors_z: np.ndarray, alpha: np.ndarray, family: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (header, y, params): the callbacks' user data and the arrays it points to."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    params = np.ascontiguousarray(
        np.concatenate([[float(family)], loc_scale, priors_z, alpha]), dtype=np.float64
    )
    header = np.array([y.ctypes.data, y.size, params.ctypes.data, params.size], dtype=np.uint64)
    return header, y, params


@numba.njit(inline="always")
def _params(user_data: Any) -> Any:
    header = numba.carray(user_data, (4,), np.uint64)
    return numba.carray(_pointer(header[2]), (int(header[3]),), np.float64)


@numba.cfunc(_LOGP_SIGNATURE, cache=True, nogil=True)
def logp_callback(dim: Any, x_: Any, grad_: Any, logp_: Any, user_data: Any) -> int:
    """Write the log posterior at ``x_`` to ``logp_`` and its gradient to ``grad_``."""
    header = numba.carray(user_data, (4,), np.uint64)
    y = numba.carray(_pointer(header[0]), (int(header[1]),), np.float64)
    params = _params(user_data)
    x = numba.carray(x_, (dim,))
    grad = numba.carray(grad_, (dim,))
    lp, g = log_posterior(x, y, params[1:3], params[3:6], params[6:], int(params[0]))
    logp_[0] = lp
    for i in range(dim):
        grad[i] = g[i]
        if not math.isfinite(g[i]):
            return 3  # nutpie's codes: positive = recoverable (a divergence)
    return 0 if math.isfinite(lp) else 4


@numba.cfunc(_EXPAND_SIGNATURE, cache=True, nogil=True)
def expand_callback(dim: Any, n_expanded: Any, x_: Any, out_: Any, user_data: Any) -> int:
    """Write (weights, mu_z, sigma_z, mu, sigma) at ``x_`` to ``out_``, K values each."""
    k = (dim + 1) // 3
    if n_expanded != 5 * k:
        return -1
    params = _params(user_data)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (n_expanded,))
    w, mu_z, sigma_z = constrain(x, k)
    for j in range(k):  # weights, mu_z, sigma_z, mu, sigma
        out[j], out[k + j], out[2 * k + j] = w[j], mu_z[j], sigma_z[j]
        out[3 * k + j] = params[1] + params[2] * mu_z[j]
        out[4 * k + j] = params[2] * sigma_z[j]
    return 0
