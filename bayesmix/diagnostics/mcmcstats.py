"""ArviZ's r_hat and ESS, computed for many scalar quantities at once.

``arviz_stats`` computes each diagnostic one scalar at a time (a Python-level loop over
every element of every variable, each with its own rank transform, FFT and SciPy calls):
~1.3 ms per quantity and diagnostic. A mixture fit checks ~20 quantities with three
diagnostics, which at N = 10^3 cost as much as sampling itself. This module runs ArviZ's
algorithms (``arviz_stats.base.diagnostics``: rank-normalised split-r_hat and bulk / tail
ESS of Vehtari et al. 2021) on an array of shape ``(quantity, chain, draw)`` with one
rank transform, one FFT pass and one quantile call for all quantities, Geyer's
truncation vectorised over them, and the quantities split over the cores. The results
equal ArviZ's (tested to 1e-10, on edge cases too); anything beyond these diagnostics is
left to ArviZ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial

import numpy as np
import scipy.fft
from arviz_base import rcParams
from scipy.special import ndtri

from bayesmix.diagnostics.mcmckernels import leading_autocov, rank_codes
from bayesmix.diagnostics.parallel import run_parallel, split_work

__all__ = [
    "convergence",
    "ess_bulk",
    "ess_mean",
    "ess_tail",
    "rhat",
    "tail_prob",
]

#: ArviZ's minimum chains and draws for r_hat (the ESS needs one chain).
MIN_DRAWS = 4


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected an array of shape (quantity, chain, draw), got {x.shape}")
    return x


def _invalid(x: np.ndarray, min_chains: int) -> np.ndarray:
    """Quantities ArviZ answers with NaN: any NaN, or too few chains or draws."""
    _, chains, draws = x.shape
    bad = np.isnan(x).any(axis=(1, 2))
    if chains < min_chains or draws < MIN_DRAWS:
        bad[:] = True
    return bad


def _split(x: np.ndarray) -> np.ndarray:
    """Each chain split in two halves, as ArviZ's ``_split_chains``: (Q, 2C, D // 2)."""
    half = x.shape[-1] // 2
    return np.concatenate((x[..., :half], x[..., x.shape[-1] - half :]), axis=1)


def _normal_scores(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised draws and folded draws of each quantity (Blom's c = 3/8).

    Each quantity is ranked over all its chains and draws (ties averaged, as
    ``scipy.stats.rankdata``), and so are its distances to its median, from one sort
    (:func:`bayesmix.mcmckernels.rank_codes`). A rank is one of 2 * size - 1 values
    (1, 1.5, 2, ...): their normal scores are computed once and looked up.
    """
    q, chains, draws = x.shape
    size = chains * draws
    flat = np.ascontiguousarray(x.reshape(q, size))
    bulk, folded = np.empty((q, size), dtype=np.intp), np.empty((q, size), dtype=np.intp)
    rank_codes(flat, np.argsort(flat, axis=-1), bulk, folded)
    scores = _score_table(size)
    return scores[bulk].reshape(x.shape), scores[folded].reshape(x.shape)


@functools.lru_cache(maxsize=8)
def _score_table(size: int) -> np.ndarray:
    """Return the normal scores of the ranks 1, 1.5, ..., size (read-only, shared)."""
    ranks = np.arange(2 * size - 1) / 2.0 + 1.0
    scores = ndtri((ranks - 3 / 8) / (size - 2 * 3 / 8 + 1))
    scores.flags.writeable = False
    return np.asarray(scores)


def _rhat_plain(x: np.ndarray) -> np.ndarray:
    """Gelman-Rubin r_hat of each quantity, chains along axis 1."""
    n = x.shape[-1]
    between = n * np.var(np.mean(x, axis=-1), axis=-1, ddof=1)
    within = np.mean(np.var(x, axis=-1, ddof=1), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _rhat_rank(z: np.ndarray, z_folded: np.ndarray) -> np.ndarray:
    """max(bulk, folded) split r_hat, given the normal scores of the split draws."""
    return np.maximum(_rhat_plain(z), _rhat_plain(z_folded))


def rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split r_hat (max of bulk and folded), as ``arviz_stats.rhat``.

    Parameters
    ----------
    x : numpy.ndarray
        Draws of shape (quantity, chain, draw).

    Returns
    -------
    numpy.ndarray
        One r_hat per quantity; NaN where ArviZ gives NaN (NaN draws, < 2 chains or
        < 4 draws).
    """
    x = _check(x)
    out = np.full(x.shape[0], np.nan)
    ok = ~_invalid(x, min_chains=2)
    if ok.any():
        out[ok] = _rhat_rank(*_normal_scores(_split(x[ok])))
    return out


def _autocov_mean(x: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag, averaged over chains: (Q, D), as ArviZ's ``autocov``."""
    n = x.shape[-1]
    m = scipy.fft.next_fast_len(2 * n)
    padded = np.zeros((*x.shape[:-1], m))  # centred draws, zero-padded: no wrap-around
    np.subtract(x, x.mean(axis=-1, keepdims=True), out=padded[..., :n])
    spectrum = scipy.fft.rfft(padded, axis=-1)  # SciPy's FFT: ~4x NumPy's here
    spectrum *= np.conjugate(spectrum)
    acov = scipy.fft.irfft(spectrum, n=m, axis=-1)[..., :n]
    return np.asarray(acov.mean(axis=1) / n)


def _geyer_tau(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integrated autocorrelation time of each row by Geyer's initial monotone sequence.

    ``rho`` (R, D) holds combined-chain autocorrelations at lags 0..D-1 (rho[:, 0] = 1).
    ArviZ's ``_ess`` loops, vectorised over rows: pairs P_0 = 1 + rho_1 and P_j = rho_2j +
    rho_2j+1 are kept up to the first non-positive one (the initial positive sequence),
    made non-increasing (each pair replaced by the smaller of itself and the pair before:
    the running minimum), and tau = -1 + 2 sum of the kept pairs + the even term after
    them (when positive, or when its pair was exactly 0).

    Also returns whether each row's answer is final: False where the pair it stopped at
    is NaN, as lags not computed yet are (NaN draws give NaN at lag 1 and a NaN tau).
    """
    rows, n = rho.shape
    last_pair = (n - 3) // 2  # pairs j = 1..last_pair: lags (2j, 2j + 1), while 2j - 1 < n - 3
    pairs = np.empty((rows, max(last_pair, 0) + 1))
    pairs[:, 0] = 1.0 + rho[:, 1]
    pairs[:, 1:] = rho[:, 2 : 2 * last_pair + 2 : 2] + rho[:, 3 : 2 * last_pair + 2 : 2]
    kept = np.zeros(rows, dtype=np.intp)  # pairs 1..kept follow pair 0
    if last_pair >= 1:
        stop = ~(pairs[:, 1:] > 0.0)  # NaN stops too
        kept = np.where(stop.any(axis=1), stop.argmax(axis=1) + 1, last_pair)
    kept = np.where(pairs[:, 0] > 0.0, kept, 0)
    with np.errstate(invalid="ignore"):  # NaN after the kept pairs is never read
        total = np.cumsum(np.minimum.accumulate(pairs, axis=1), axis=1)
    r = np.arange(rows)
    summed = np.where(kept > 0, total[r, np.maximum(kept - 1, 0)], 0.0)
    even = rho[r, np.minimum(2 * kept, n - 1)]
    zero_pair = pairs[r, kept] >= 0.0  # the stopping pair is still stored when exactly 0
    last = np.where(kept > 0, np.where((even > 0.0) | zero_pair, even, 0.0), 1.0)
    tau = -1.0 + 2.0 * summed + last
    final = ~np.isnan(pairs[r, kept]) & ~np.isnan(even)
    return np.where(np.isnan(rho[:, 1]), np.nan, tau), final


#: Lags :func:`_ess` computes directly before it turns to the FFT: a lag costs one pass
#: over the draws, the FFT of all lags ~10 (direct lags stop at Geyer's cut-off, a few
#: lags for well-mixed draws; sticky or stuck draws go on to the FFT).
DIRECT_LAGS = 16


def _autocorr(x: np.ndarray, acov: np.ndarray) -> np.ndarray:
    """ArviZ's combined-chain autocorrelations, from the autocovariances (Q, D) of x."""
    mean_var, var_plus = _variances(x, acov[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(1.0 - (mean_var[:, None] - acov) / var_plus[:, None])


def _variances(x: np.ndarray, acov0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's within-chain variance and pooled variance ``var_plus`` of each quantity."""
    draws = x.shape[-1]
    mean_var = acov0 * draws / (draws - 1.0)
    var_plus = mean_var * (draws - 1.0) / draws
    if x.shape[1] > 1:
        var_plus = var_plus + np.var(x.mean(axis=-1), axis=-1, ddof=1)
    return mean_var, var_plus


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each quantity of x (Q, M, N), chains as given (ArviZ's ``_ess``).

    Autocovariances are computed directly up to Geyer's cut-off where it comes within
    :data:`DIRECT_LAGS` lags, by FFT at every lag for the other quantities.
    """
    q, chains, draws = x.shape
    size = chains * draws
    out = np.full(q, float(size))
    flat = x.reshape(q, -1)
    varies = flat.max(axis=-1) - flat.min(axis=-1) >= np.finfo(float).resolution
    if not varies.any():
        return out
    x = np.ascontiguousarray(x[varies])
    acov = np.full((x.shape[0], draws), np.nan)
    acov[:, 0] = np.var(x, axis=-1).mean(axis=-1)  # lag 0: each chain's own variance
    leading_autocov(x, *_variances(x, acov[:, 0]), min(DIRECT_LAGS, draws), acov)
    tau, final = _geyer_tau(_autocorr(x, acov))
    if not final.all():
        rest = x[~final]
        tau[~final] = _geyer_tau(_autocorr(rest, _autocov_mean(rest)))[0]
    out[varies] = size / np.maximum(tau, 1 / np.log10(size))
    out[varies] = np.where(np.isnan(tau), np.nan, out[varies])
    return out


def _valid_then(x: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``compute`` on the quantities ArviZ accepts for an ESS; NaN for the others."""
    out = np.full(x.shape[0], np.nan)
    ok = ~_invalid(x, min_chains=1)
    if ok.any():
        out[ok] = compute(x[ok])
    return out


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk ESS (rank-normalised split chains), as ``arviz_stats.ess(method="bulk")``.

    Parameters
    ----------
    x : numpy.ndarray
        Draws of shape (quantity, chain, draw).

    Returns
    -------
    numpy.ndarray
        One ESS per quantity.
    """
    x = _check(x)
    return _valid_then(x, lambda v: _ess(_normal_scores(_split(v))[0]))


def ess_mean(x: np.ndarray) -> np.ndarray:
    """ESS of the mean (split chains), as ``arviz_stats.ess(method="mean")``."""
    x = _check(x)
    return _valid_then(x, lambda v: _ess(_split(v)))


def tail_prob(prob: float | tuple[float, float] | None) -> tuple[float, float]:
    """Return ArviZ's tail probabilities for ``prob``.

    A pair as given, p as (1 - p, p) sorted, None as ``rcParams["stats.ci_prob"]``
    (0.89 by default: the 11% and 89% quantiles), as ``arviz_stats.ess(method="tail")``.
    """
    if prob is None:
        prob = float(rcParams["stats.ci_prob"])
    if isinstance(prob, tuple):
        return prob
    low, high = sorted((prob, 1 - prob))
    return low, high


def _tail_indicators(v: np.ndarray, prob: tuple[float, float]) -> np.ndarray:
    """Split-chain indicators of draws below each tail quantile: (2Q, 2C, D // 2)."""
    qs = np.quantile(v.reshape(v.shape[0], -1).T, np.asarray(prob), axis=0)  # (2, Q)
    split = _split(v)
    return np.concatenate([split <= q[:, None, None] for q in qs]).astype(np.float64)


def _ess_tail(v: np.ndarray, prob: tuple[float, float]) -> np.ndarray:
    low, high = np.split(_ess(_tail_indicators(v, prob)), 2)
    return np.minimum(low, high)


def ess_tail(x: np.ndarray, prob: float | tuple[float, float] | None = None) -> np.ndarray:
    """Tail ESS: the smaller ESS of the two quantile indicators, as ArviZ's ``"tail"``.

    Parameters
    ----------
    x : numpy.ndarray
        Draws of shape (quantity, chain, draw).
    prob : float or (float, float), optional
        The two tail probabilities, or p for (1 - p, p); default ArviZ's
        ``rcParams["stats.ci_prob"]``, as ``arviz_stats.ess(method="tail")``.

    Returns
    -------
    numpy.ndarray
        One ESS per quantity.
    """
    x = _check(x)
    pair = tail_prob(prob)
    return _valid_then(x, lambda v: _ess_tail(v, pair))


#: Draws (quantities x chains x draws) from which :func:`convergence` uses all cores: its
#: sorts and FFTs release the GIL, and at 18 x 4000 draws two threads take 30 -> 19 ms.
PARALLEL_MIN_DRAWS = 20_000


def _convergence_rows(x: np.ndarray, out: np.ndarray) -> None:
    """:func:`convergence` of valid quantities, into ``out`` of shape (3, Q)."""
    z, z_folded = _normal_scores(_split(x))
    # one ESS pass over the bulk z-scores and both tail indicators
    ess = np.split(_ess(np.concatenate((z, _tail_indicators(x, tail_prob(None))))), 3)
    out[1], out[2] = ess[0], np.minimum(ess[1], ess[2])
    if x.shape[1] >= 2:
        out[0] = _rhat_rank(z, z_folded)


def convergence(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r_hat, bulk ESS and tail ESS together, sharing the rank transform of the draws.

    Quantities are independent: above ``PARALLEL_MIN_DRAWS`` they are split over the
    cores (threads; the same numbers).

    Parameters
    ----------
    x : numpy.ndarray
        Draws of shape (quantity, chain, draw).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        :func:`rhat`, :func:`ess_bulk` and :func:`ess_tail` (ArviZ's default tail
        probabilities), one value per quantity.
    """
    x = _check(x)
    # identical quantities (e.g. the sorted weights of a posterior whose weights never
    # change order) are computed once
    first: dict[bytes, int] = {}
    source = np.array([first.setdefault(row.tobytes(), i) for i, row in enumerate(x)])
    unique = np.flatnonzero(source == np.arange(x.shape[0]))
    out = np.full((3, unique.size), np.nan)
    ok = np.flatnonzero(~_invalid(x[unique], min_chains=1))
    if ok.size:
        valid, found = x[unique[ok]], np.full((3, ok.size), np.nan)
        parts = split_work(ok.size, valid.size, PARALLEL_MIN_DRAWS)
        run_parallel([partial(_convergence_rows, valid[p], found[:, p]) for p in parts])
        out[:, ok] = found
    full = out[:, np.searchsorted(unique, source)]
    return full[0], full[1], full[2]
