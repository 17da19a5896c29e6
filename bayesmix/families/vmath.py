"""Vectorisable ``exp`` and ``log`` for the fused kernels (numba's are scalar calls).

numba's ``math.exp`` and ``math.log`` are calls into the C library, one value at a time,
which keep LLVM from vectorising the loops around them. These are inlined and written
with integer operations on the bits, so the loops over a block of observations
vectorise; each is within ~1 ulp of NumPy's.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["exponentiate_block", "log_block"]

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # ln 2 split in two so that n * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6
#: 1/11!, 1/10!, ..., 1/0!: Horner coefficients of exp's Taylor polynomial after 1/12!.
_EXP_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(11, -1, -1))
#: Contraction into FMA and reciprocals; no reassociation, so sums keep their order.
_FASTMATH = {"contract", "nsz", "arcp"}


@numba.njit(fastmath=_FASTMATH, inline="always")
def _exp_parts(x: float) -> tuple[float, float]:
    """``exp(x) = p * 2**e`` for x <= 0, as (p, e); inlined so loops over it vectorise.

    numba's ``math.exp`` is a scalar library call that blocks vectorisation. Range
    reduction to |r| <= ln(2)/2 and a degree-12 Taylor polynomial: relative error
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
def exponentiate_block(
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


#: 2/19, 2/17, ..., 2/3: log(1 + f) = 2 atanh(s) = 2s + s * sum_n 2 s^2n / (2n + 1) with
#: s = f / (2 + f); for 1 + f in [sqrt(1/2), sqrt(2)), |s| <= 0.172 and nine terms leave
#: a truncation error of ~0.1 ulp.
_LOG_TAYLOR = tuple(2.0 / (2 * i + 1) for i in range(9, 0, -1))
#: Bits of sqrt(1/2), where :func:`log_block` splits mantissas.
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_MANTISSA_MASK = (1 << 52) - 1


@numba.njit(fastmath=_FASTMATH, inline="always")
def log_block(values: np.ndarray, bits: np.ndarray, pow2: np.ndarray, m: int) -> None:
    """In place: ``values[i] = log(values[i])`` for i < m; inlined so the loop vectorises.

    numba's ``math.log`` is a scalar library call. As in musl, t = 2**k * (1 + f) with
    1 + f in [sqrt(1/2), sqrt(2)) by integer operations on the bits (``bits`` and ``pow2``
    are one buffer seen as int64 and float64), then the atanh series with the exact f as
    leading term: within 1 ulp of ``np.log`` for every positive normal double. Zero,
    subnormals and infinity give wrong finite values, NaN stays NaN: callers pass values
    in [1, inf) that no finite data make infinite. The caller's ``error_model`` must be "numpy", or
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
