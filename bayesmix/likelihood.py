"""The mixture log-likelihood and its gradient in one fused pass, as a PyTensor Op.

``pm.NormalMixture`` builds an (N, K) matrix of component log densities, a log-sum-exp
over it and, for the gradient, the softmax of that matrix again: several passes over
N x K temporaries. The kernel here visits each observation once, keeps the K terms in
registers and accumulates the log-likelihood and its gradient with respect to the
log-weights, means and sigmas together. At N = 10^4 it evaluates the log-posterior and
gradient about 6x faster than PyTensor's graph (see ``benchmarks/README.md``).

The Op returns ``(loglik, d/dlogw, d/dmu, d/dsigma)``; its gradient reuses the last three
outputs, so the compiled ``logp_dlogp`` function runs the kernel once per evaluation.
It has a NumPy-free numba implementation (PyMC's default linker and nutpie), a Python
``perform`` (PyMC's C and Python linkers) and a JAX implementation (numpyro), registered
on demand by :func:`register_jax` so that importing bayesmix does not import JAX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

__all__ = ["log_density_rows", "mixture_loglik", "register_jax", "responsibility_rows"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # ln 2 split in two so that n * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6
#: Observations per block. The K terms of a block sit in small arrays that LLVM
#: vectorises over; the block's sums are multiplied (each lies in [1, K], so 64 of them
#: stay far from overflow for any K < 10^4) and logged once per block.
_BLOCK = 64
#: 1/11!, 1/10!, ..., 1/0!: Horner coefficients of exp's Taylor polynomial after 1/12!.
_EXP_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(11, -1, -1))
#: 2/19, 2/17, ..., 2/3: log(1 + f) = 2 atanh(s) = 2s + s * sum_n 2 s^2n / (2n + 1) with
#: s = f / (2 + f); for 1 + f in [sqrt(1/2), sqrt(2)), |s| <= 0.172 and nine terms leave
#: a truncation error of ~0.1 ulp.
_LOG_TAYLOR = tuple(2.0 / (2 * i + 1) for i in range(9, 0, -1))
#: Bits of sqrt(1/2), where :func:`_log_block` splits mantissas.
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_MANTISSA_MASK = (1 << 52) - 1
#: Contraction into FMA and reciprocals; no reassociation, so sums keep their order.
_FASTMATH = {"contract", "nsz", "arcp"}


@numba.njit(fastmath=_FASTMATH, inline="always")
def _exp_parts(x: float) -> tuple[float, float]:
    """``exp(x) = p * 2**e`` for x <= 0, as (p, e); inlined so loops over it vectorise.

    Range reduction to |r| <= ln(2)/2 and a degree-12 Taylor polynomial: relative error
    ~1e-16. x is clamped at -700 (exp(-700) ~ 1e-304: 2**e stays a normal number).
    """
    x = max(x, -700.0)
    e = math.floor(x * _LOG2E + 0.5)
    r = x - e * _LN2_HI - e * _LN2_LO
    p = 1.0 / 479001600.0  # 1/12!
    for c in _EXP_TAYLOR:
        p = p * r + c
    return p, e


@numba.njit(fastmath=_FASTMATH, inline="always")
def _exponentiate_block(
    terms: np.ndarray,
    top: np.ndarray,
    total_b: np.ndarray,
    bits: np.ndarray,
    pow2: np.ndarray,
    k: int,
    m: int,
) -> None:
    """In place: ``terms[j, i] = exp(terms[j, i] - top[i])`` and their sums over j.

    ``bits`` and ``pow2`` are one buffer seen as int64 and float64: the power of two of
    :func:`_exp_parts` is written into the exponent bits.
    """
    for i in range(m):
        total_b[i] = 0.0
    for j in range(k):
        for i in range(m):
            p, e2 = _exp_parts(terms[j, i] - top[i])
            bits[i] = (np.int64(e2) + 1023) << 52
            e = p * pow2[i]
            terms[j, i] = e
            total_b[i] += e


@numba.njit(fastmath=_FASTMATH, inline="always")
def _log_block(values: np.ndarray, bits: np.ndarray, pow2: np.ndarray, m: int) -> None:
    """In place: ``values[i] = log(values[i])`` for i < m; inlined so the loop vectorises.

    numba's ``math.log`` is a scalar library call. As in musl, t = 2**k * (1 + f) with
    1 + f in [sqrt(1/2), sqrt(2)) by integer operations on the bits (``bits`` and ``pow2``
    are one buffer seen as int64 and float64), then the atanh series with the exact f as
    leading term: within 1 ulp of ``np.log`` for every positive normal double. Callers
    need no more (sums of exponentials lie in [1, K]): zero, subnormals and infinity give
    wrong finite values, NaN stays NaN. The caller's ``error_model`` must be "numpy", or
    the division checks for zero and the loop does not vectorise.
    """
    for i in range(m):
        t = values[i]
        pow2[i] = t
        # + bits(1) - bits(sqrt(1/2)) carries into the exponent iff the mantissa >= sqrt(1/2)
        ix = bits[i] + (0x3FF0000000000000 - _SQRT_HALF_BITS)
        k = float((ix >> 52) - 1023)
        bits[i] = (ix & _MANTISSA_MASK) + _SQRT_HALF_BITS
        f = pow2[i] - 1.0  # exact
        s = f / (2.0 + f)
        z = s * s
        r = 0.0
        for c in _LOG_TAYLOR:
            r = (r + c) * z
        hfsq = 0.5 * f * f
        # log(1 + f) = 2 atanh(s) = f - hfsq + s * (hfsq + r); t - t passes a NaN on
        values[i] = s * (hfsq + r) + k * _LN2_LO - hfsq + f + k * _LN2_HI + (t - t)


@numba.njit(fastmath=_FASTMATH, inline="always")
def _draw_constants(
    logw: np.ndarray, sigma: np.ndarray, s: int, inv: np.ndarray, const: np.ndarray
) -> None:
    """In place, for draw s: ``inv = 1 / sigma`` and ``const = log w - log sigma - log √2π``."""
    for j in range(sigma.shape[1]):
        inv[j] = 1.0 / sigma[s, j]
        const[j] = logw[s, j] - math.log(sigma[s, j]) - _LOG_SQRT_2PI


@numba.njit(fastmath=_FASTMATH, inline="always")
def _block_terms(
    x: np.ndarray,
    start: int,
    m: int,
    mu: np.ndarray,
    s: int,
    inv: np.ndarray,
    const: np.ndarray,
    terms: np.ndarray,
    top: np.ndarray,
) -> None:
    """In place: ``terms[j, i]`` = log w_j N(x_i | mu_j, sigma_j) for the block, ``top`` = max."""
    for i in range(m):
        top[i] = -np.inf
    for j in range(mu.shape[1]):
        for i in range(m):
            d = (x[start + i] - mu[s, j]) * inv[j]
            a = const[j] - 0.5 * d * d
            terms[j, i] = a
            top[i] = max(top[i], a)


# error_model="numpy": divisions skip the zero check that keeps loops from vectorising
@numba.njit(fastmath=_FASTMATH, cache=True, nogil=True, error_model="numpy")
def _mixture_rows(
    x: np.ndarray,
    logw: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    out: np.ndarray,
    memberships: bool,
) -> None:
    """Run the row pass behind :func:`log_density_rows` and :func:`responsibility_rows`.

    For each draw s and block of points: the K terms, their maximum and the exponentials
    (:func:`_exponentiate_block`); then either ``out[s, i, 0]`` = the log of their sum
    (:func:`_log_block`) or ``out[s, i, k]`` = the normalised terms. ``out`` has shape
    (S, n, 1) or (S, n, K).
    """
    n_draws, k = mu.shape
    n = x.shape[0]
    terms = np.empty((k, _BLOCK))
    top, total_b = np.empty(_BLOCK), np.empty(_BLOCK)
    bits = np.empty(_BLOCK, dtype=np.int64)
    pow2 = bits.view(np.float64)
    inv, const = np.empty(k), np.empty(k)
    for s in range(n_draws):
        _draw_constants(logw, sigma, s, inv, const)
        for start in range(0, n, _BLOCK):
            m = min(_BLOCK, n - start)
            _block_terms(x, start, m, mu, s, inv, const, terms, top)
            _exponentiate_block(terms, top, total_b, bits, pow2, k, m)
            if memberships:
                for i in range(m):
                    total_b[i] = 1.0 / total_b[i]
                for i in range(m):
                    for j in range(k):
                        out[s, start + i, j] = terms[j, i] * total_b[i]
            else:
                _log_block(total_b, bits, pow2, m)
                # copied apart: stores to out (stride unknown to LLVM) would not vectorise
                for i in range(m):
                    out[s, start + i, 0] = top[i] + total_b[i]


def log_density_rows(
    x: np.ndarray, logw: np.ndarray, mu: np.ndarray, sigma: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out[s, i] = log sum_k w_sk N(x_i | mu_sk, sigma_sk)`` for draws s, points i.

    The mixture maths of :mod:`bayesmix.density` (log-likelihoods for LOO, densities and
    bands), with vectorised ``exp`` and ``log``: ~40x faster than SciPy's ``logsumexp``.
    ``logw`` may hold ``-inf`` (a weight that underflowed to 0). ``out`` must be
    C-contiguous (it is written through a view of shape (S, n, 1)).
    """
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous: it is written through a reshaped view")
    _mixture_rows(x, logw, mu, sigma, out.reshape(*out.shape, 1), False)


def responsibility_rows(
    x: np.ndarray, logw: np.ndarray, mu: np.ndarray, sigma: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out[s, i, k] = p(z_i = k | x_i, theta_s)``, the membership probabilities.

    The same pass as :func:`log_density_rows`, normalising the K terms instead of
    summing them (~10x faster than SciPy's ``logsumexp`` and a softmax).
    """
    _mixture_rows(x, logw, mu, sigma, out, True)


@numba.njit(fastmath=_FASTMATH, cache=True, nogil=True)
def _kernel(
    y: np.ndarray, loc: float, scale: float, logw: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Sum over i of log sum_k w_k N(z_i | mu_k, sigma_k), z = (y - loc) / scale; gradient.

    ``exp`` is computed inline (:func:`_exp_parts`; the power of two is written into the
    exponent bits) because numba's ``math.exp`` is a scalar library call that blocks
    vectorisation.
    """
    k, n = mu.shape[0], y.shape[0]
    inv_scale = 1.0 / scale
    # loops, not array expressions or slices: each of those adds numba compile time
    inv, const = np.empty(k), np.empty(k)
    for j in range(k):
        inv[j] = 1.0 / sigma[j]
        const[j] = logw[j] - math.log(sigma[j]) - _LOG_SQRT_2PI
    terms, dist = np.empty((k, _BLOCK)), np.empty((k, _BLOCK))
    top, total_b, inv_s = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
    bits = np.empty(_BLOCK, dtype=np.int64)
    pow2 = bits.view(np.float64)
    g_w, g_mu, g_s = np.zeros(k), np.zeros(k), np.zeros(k)
    total = 0.0
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for i in range(m):
            top[i] = -np.inf
        for j in range(k):
            for i in range(m):
                d = ((y[start + i] - loc) * inv_scale - mu[j]) * inv[j]
                dist[j, i] = d
                a = const[j] - 0.5 * d * d
                terms[j, i] = a
                top[i] = max(top[i], a)
        _exponentiate_block(terms, top, total_b, bits, pow2, k, m)
        prod = 1.0
        for i in range(m):
            prod *= total_b[i]
            total += top[i]
            inv_s[i] = 1.0 / total_b[i]
        total += math.log(prod)
        for j in range(k):
            gw, gm, gs = 0.0, 0.0, 0.0
            for i in range(m):
                r = terms[j, i] * inv_s[i]  # responsibility of component j for z_i
                d = dist[j, i]
                gw += r
                gm += r * d
                gs += r * (d * d - 1.0)
            g_w[j] += gw
            g_mu[j] += gm * inv[j]
            g_s[j] += gs * inv[j]
    return total, g_w, g_mu, g_s


class MixtureLogLik(Op):
    """``loglik(z, logw, mu, sigma)`` with its gradient as extra outputs (see module doc)."""

    __props__ = ()

    def make_node(self, *args: Any) -> Apply:
        """Build the node from five vectors: y, (loc, scale), logw, mu, sigma."""
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in args]
        if len(inputs) != 5 or any(v.ndim != 1 for v in inputs):
            raise ValueError("MixtureLogLik takes five vectors: y, (loc, scale), logw, mu, sigma")
        outputs = [pt.dscalar(), pt.dvector(), pt.dvector(), pt.dvector()]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        y, (loc, scale), logw, mu, sigma = (np.asarray(v, dtype=np.float64) for v in inputs)
        total, g_w, g_mu, g_s = _kernel(y, loc, scale, logw, mu, sigma)
        output_storage[0][0] = np.asarray(total)
        output_storage[1][0] = g_w
        output_storage[2][0] = g_mu
        output_storage[3][0] = g_s

    def infer_shape(self, node: Apply, shapes: list[Any]) -> list[Any]:
        return [(), shapes[2], shapes[2], shapes[2]]

    def pullback(
        self, inputs: Sequence[Variable], outputs: Sequence[Variable], output_grads: Sequence[Any]
    ) -> list[Variable]:
        if any(not isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            raise NotImplementedError("MixtureLogLik has no second derivatives")
        g = output_grads[0]
        no_grad = [grad_not_implemented(self, i, inputs[i]) for i in (0, 1)]
        return [*no_grad, *(g * o for o in outputs[1:])]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # The gradient outputs are not differentiable; declaring them disconnected lets
        # PyTensor pass DisconnectedType for them instead of zeros.
        return [[True, False, False, False] for _ in node.inputs]


_mixture_loglik = MixtureLogLik()


def mixture_loglik(y: Any, standardise: Any, logw: Any, mu: Any, sigma: Any) -> pt.TensorVariable:
    """Return ``sum_i log sum_k exp(logw_k) Normal(z_i | mu_k, sigma_k)`` as a scalar.

    Parameters
    ----------
    y : tensor_like, shape (N,)
        Observations.
    standardise : tensor_like, shape (2,)
        ``(loc, scale)``: the mixture is that of ``z = (y - loc) / scale``. Pass data as
        shared variables rather than constants: numba compiles a kernel fed from a large
        embedded constant array ~4x slower, and a graph without data constants is reused
        from PyTensor's cache for any data set.
    logw, mu, sigma : tensor_like, shape (K,)
        Log-weights, means and standard deviations of the components, on the z scale.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The scalar log-likelihood; its gradient costs no second pass over the data.
    """
    outputs = _mixture_loglik(y, standardise, logw, mu, sigma)
    assert isinstance(outputs, list)
    return cast(pt.TensorVariable, outputs[0])


@register_funcify_default_op_cache_key(MixtureLogLik)
def _numba_mixture_loglik(op: MixtureLogLik, **kwargs: Any) -> Any:
    @numba.njit(nogil=True)
    def mixture_loglik_numba(
        y: np.ndarray, standardise: np.ndarray, logw: np.ndarray, mu: np.ndarray, sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # Contiguous copies (free when already so) let the kernel compile for unit
        # strides, which it needs to vectorise.
        total, g_w, g_mu, g_s = _kernel(
            np.ascontiguousarray(y),
            standardise[0],
            standardise[1],
            np.ascontiguousarray(logw),
            np.ascontiguousarray(mu),
            np.ascontiguousarray(sigma),
        )
        return np.asarray(total), g_w, g_mu, g_s

    return mixture_loglik_numba, 1  # bump the version when the kernel changes


def register_jax() -> None:
    """Give :class:`MixtureLogLik` a JAX implementation (needed by the numpyro sampler)."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(MixtureLogLik)
    def _jax_mixture_loglik(op: MixtureLogLik, **kwargs: Any) -> Any:
        def mixture_loglik_jax(
            y: Any, standardise: Any, logw: Any, mu: Any, sigma: Any
        ) -> tuple[Any, ...]:
            z = (y - standardise[0]) / standardise[1]
            d = (z[:, None] - mu) / sigma
            a = logw - jnp.log(sigma) - _LOG_SQRT_2PI - 0.5 * d * d
            lse = logsumexp(a, axis=1, keepdims=True)
            r = jnp.exp(a - lse)  # responsibilities; XLA drops them when unused
            g_mu = jnp.sum(r * d / sigma, axis=0)
            g_s = jnp.sum(r * (d * d - 1.0) / sigma, axis=0)
            return jnp.sum(lse), jnp.sum(r, axis=0), g_mu, g_s

        return mixture_loglik_jax
