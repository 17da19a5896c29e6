"""Each posterior draw's mixture log density at many points, from the family's kernel.

Densities, their bands and the pointwise log-likelihood need ``log p(x_i | theta_s)``
for S draws and n points. In NumPy that is an (S, n, K) temporary per step (log, add,
log-sum-exp): ~0.7 s for a 500-point band of 4,000 draws, as long as the fit at
N = 10^3 (``benchmarks/README.md``). This evaluates it block by block, as the fused
likelihood does, with the same ``kernel_logpdf`` of the family and vectorised exp and
log, writing only the (S, n) result.

The kernel gives a component's log density up to a constant (see
:mod:`bayesmix.families.fused`); the constant is taken from the family's NumPy
``logpdf`` at the component's location: ``c_k = logpdf(loc_k | theta_k) - f(loc_k |
theta_k)``, so no formula is written twice. ``tests/test_families.py`` checks the result
against the NumPy ``logpdf``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numba
import numpy as np

from bayesmix.families import Family, get_family
from bayesmix.families.vmath import exponentiate_block, log_block

__all__ = ["log_density_draws"]

#: Points per block (as in the fused likelihood).
_BLOCK = 64
_FASTMATH = {"contract", "nsz", "arcp"}


@cache
def _evaluator(family_name: str) -> Any:
    """Return the numba evaluator of ``family_name``, compiled once per process."""
    logpdf = get_family(family_name).kernel_logpdf

    @numba.njit(fastmath=_FASTMATH, nogil=True, error_model="numpy")
    def evaluate(x: np.ndarray, at_loc: np.ndarray, theta: np.ndarray, out: np.ndarray) -> None:
        n_draws, _, k = theta.shape
        n = x.shape[0]
        terms, z = np.empty((k, _BLOCK)), np.empty(_BLOCK)
        top, total_b, ref = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
        bits = np.empty(_BLOCK, dtype=np.int64)
        pow2 = bits.view(np.float64)
        a = np.empty(k)
        for s in range(n_draws):
            th = theta[s]
            for j in range(k):  # the constant: log w_k + logpdf(loc_k) - f(loc_k)
                z[0] = th[0, j]
                logpdf(z, 1, th, j, ref, bits, pow2)
                a[j] = at_loc[s, j] - ref[0]
            for start in range(0, n, _BLOCK):
                m = min(_BLOCK, n - start)
                for i in range(m):
                    z[i] = x[start + i]
                    top[i] = -np.inf
                for j in range(k):
                    row = terms[j]
                    logpdf(z, m, th, j, row, bits, pow2)
                    aj = a[j]
                    for i in range(m):
                        t = row[i] + aj
                        row[i] = t
                        top[i] = max(top[i], t)
                exponentiate_block(terms, top, total_b, bits, pow2, k, m)
                log_block(total_b, bits, pow2, m)  # each sum lies in [1, K]
                for i in range(m):
                    out[s, start + i] = top[i] + total_b[i]

    return evaluate


def log_density_draws(
    x: np.ndarray, family: Family, weights: np.ndarray, params: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Return ``log sum_k w_sk p(x_i | theta_sk)`` for every draw s and point i: (S, n).

    Parameters
    ----------
    x : numpy.ndarray, shape (n,)
        Finite points.
    family : Family
        The component family.
    weights : numpy.ndarray, shape (S, K)
        Mixture weights of each draw.
    params : tuple of numpy.ndarray, each (S, K)
        The family's parameters on the data's scale, in the order of its ``parameters``.
    """
    theta = np.ascontiguousarray(np.stack(params, axis=1), dtype=np.float64)  # (S, P, K)
    with np.errstate(divide="ignore"):  # an empty component's weight may underflow to 0
        at_loc = np.log(weights) + family.logpdf(params[0], *params)
    out = np.empty((theta.shape[0], x.size))
    _evaluator(family.name)(np.ascontiguousarray(x, dtype=np.float64), at_loc, theta, out)
    return out
