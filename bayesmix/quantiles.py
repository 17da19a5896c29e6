"""``np.quantile`` over the draws (axis 0), bit for bit, and the fused density band kernel.

NumPy partitions each column of 4000 draws with a branchy introselect (~10 ns a value):
~37 ms for a 500-point density band, most of the band's time. The two order statistics
each quantile interpolates between are found here by a branch-free quickselect on the
values below a threshold estimated from a sample of the draws (all values if that
leaves too few), in numba kernels over tiles of 8 columns split across the cores; NumPy's
own interpolation formula is then applied. Tested bit-identical to ``np.quantile``.

:func:`quantiles` copies the tiles out of an array of values. :func:`density_quantiles`
computes them instead: the S mixture densities at 8 points at a time, straight into the
tile, then their mean and quantiles, so that no (S, n) array of densities exists. A
500-point band at S = 4000, K = 3 takes ~14 ms on one core (~9 on two), two thirds of it
the 6 million exponentials; through stored log densities it took ~24 ms (~16).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numba
import numpy as np

from bayesmix.likelihood import _exp_parts
from bayesmix.parallel import run_parallel, split_work

__all__ = ["density_quantiles", "mixture_densities", "quantiles"]

#: Columns a tile holds: 8 float64 per row of ``values``, a cache line.
_TILE = 8
#: About how many draws :func:`_select_tile` samples per column for its thresholds.
_SAMPLE = 128


class _Plan(NamedTuple):
    """The order statistics the quantiles ``q`` of n values need, and NumPy's terms."""

    virtual: np.ndarray  # (n - 1) * q, as NumPy computes it
    prev: np.ndarray  # its floor: interpolate between order statistics prev and prev + 1
    upper: np.ndarray  # nearer the top: selected as the smallest of the negated values
    sign: np.ndarray  # -1.0 where upper, else 1.0
    rank: np.ndarray  # the pair: the rank-th and (rank + 1)-th smallest signed values
    sample_rank: np.ndarray  # where in the sample the threshold for them lies
    step: int  # the sample is every step-th value


def _plan(n: int, q: np.ndarray) -> _Plan | None:
    """Plan the selection for quantiles ``q`` of n values; None in NumPy's special cases."""
    virtual = (n - 1) * q  # NumPy's formulae, as in numpy.lib._function_base_impl
    prev = np.floor(virtual)
    if not (n > 1 and np.all(virtual >= 0) and np.all(virtual < n - 1)):
        return None
    k = prev.astype(np.intp)  # interpolate between order statistics k and k + 1
    upper = n - 1 - k < k + 1  # nearer the top: select from the negated values
    rank = np.where(upper, n - 1 - k, k + 1)
    step = max(1, n // _SAMPLE)
    n_sample = -(-n // step)
    # a threshold sample rank leaving rank + 1 values below it, with ~3 sds to spare
    expected = (rank + 1) * n_sample / n
    sample_rank = np.minimum(np.ceil(expected + 3 * np.sqrt(expected) + 2), n_sample - 1)
    sign = np.where(upper, -1.0, 1.0)
    return _Plan(virtual, prev, upper, sign, rank, sample_rank.astype(np.intp), step)


def _interpolate(plan: _Plan, pairs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """NumPy's linear interpolation between the order statistic pairs, of shape ``shape``."""
    below, top = pairs[0::2], pairs[1::2]
    a = np.where(plan.upper[:, None], -top, below).reshape(shape)
    b = np.where(plan.upper[:, None], -below, top).reshape(shape)
    gamma = (plan.virtual - plan.prev).reshape(-1, *[1] * (len(shape) - 1))
    diff = b - a  # NumPy's _lerp
    result = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    result[np.isnan(result)] = np.nan  # as NumPy does: a negated NaN has its sign bit set
    return result


@numba.njit(nogil=True)
def _select(buf: np.ndarray, n: int, k: int) -> None:
    """Quickselect: reorder ``buf[:n]`` in place so that ``buf[k]`` is its k-th smallest.

    k is 0-based; no larger value ends up before position k, no smaller one after it.
    ``buf`` must not hold NaN.
    """
    lo, hi = 0, n
    while hi - lo > 1:
        x0, x1, x2 = buf[lo], buf[(lo + hi) >> 1], buf[hi - 1]
        if x0 > x1:
            x0, x1 = x1, x0
        p = x1 if x1 < x2 else (x2 if x0 < x2 else x0)  # median of three
        store = lo
        for i in range(lo, hi):  # branchless (NumPy's partition is not): [lo, store) < p
            x = buf[i]
            buf[i] = buf[store]
            buf[store] = x
            store += x < p
        if k < store:
            hi = store
        elif store > lo:
            lo = store
        else:  # p is the minimum: split off the values equal to it, or this would not end
            for i in range(store, hi):
                x = buf[i]
                buf[i] = buf[store]
                buf[store] = x
                store += x == p
            if k < store:
                return
            lo = store


@numba.njit(nogil=True)
def _select_tile(
    tile: np.ndarray,
    g: int,
    sign: np.ndarray,
    rank: np.ndarray,
    sample_rank: np.ndarray,
    step: int,
    cand: np.ndarray,
    sample: np.ndarray,
    out: np.ndarray,
    c0: int,
) -> None:
    """Order statistics ``rank[r] - 1`` and ``rank[r]`` (0-based) of ``sign[r]`` * tile rows.

    For the rows c < g of ``tile`` (8, S) and y = ``sign[r]`` * row c: ``out[2r, c0 + c]``
    = the largest of the ``rank[r]`` smallest y, ``out[2r + 1, c0 + c]`` = the next one;
    NaN if the row holds NaN. Only the y up to a threshold are selected from: the
    ``sample_rank[r]``-th smallest y of every ``step``-th draw, which leaves enough y below
    it with high probability (if not, all y are used). ``cand`` (S,) and ``sample`` are
    scratch space.
    """
    n = tile.shape[1]
    n_sample = (n + step - 1) // step
    for c in range(g):
        nan = 0
        for s in range(n):
            nan += tile[c, s] != tile[c, s]
        for r in range(rank.shape[0]):
            if nan:
                out[2 * r, c0 + c] = out[2 * r + 1, c0 + c] = np.nan
                continue
            sg, j = sign[r], rank[r]
            for i in range(n_sample):
                sample[i] = sg * tile[c, i * step]
            _select(sample, n_sample, sample_rank[r])
            top = sample[sample_rank[r]]
            nc = 0
            for s in range(n):  # branchless compaction of the values <= top
                y = sg * tile[c, s]
                cand[nc] = y
                nc += y <= top
            if nc <= j:
                for s in range(n):
                    cand[s] = sg * tile[c, s]
                nc = n
            _select(cand, nc, j)
            below = cand[0]
            for i in range(1, j):
                below = cand[i] if cand[i] > below else below
            out[2 * r, c0 + c] = below
            out[2 * r + 1, c0 + c] = cand[j]


@numba.njit(cache=True, nogil=True)
def _order_stat_pairs(
    values: np.ndarray,
    sign: np.ndarray,
    rank: np.ndarray,
    sample_rank: np.ndarray,
    step: int,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """:func:`_select_tile` on the columns c in [start, stop) of ``values`` (S, m), 8 at once."""
    n = values.shape[0]
    tile = np.empty((_TILE, n))
    cand, sample = np.empty(n), np.empty((n + step - 1) // step)
    for c0 in range(start, stop, _TILE):
        g = min(_TILE, stop - c0)
        for s in range(n):  # a cache line of each row at a time, not one value
            for c in range(g):
                tile[c, s] = values[s, c0 + c]
        _select_tile(tile, g, sign, rank, sample_rank, step, cand, sample, out, c0)


def quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q, axis=0)`` (method "linear"), bit for bit, ~4x faster.

    NumPy partitions each column of 4000 draws with a branchy introselect (~10 ns a
    value). Here the two order statistics each quantile interpolates between come from
    :func:`_select_tile` (values nearer the top are negated, so that both tails are
    selected from the bottom) and NumPy's interpolation formula is applied to them. Where
    0.0 and -0.0 tie, either may be returned (they compare equal), as from any selection.
    """
    n = values.shape[0]
    plan = _plan(n, q)
    if plan is None:
        return np.asarray(np.quantile(values, q, axis=0))  # NumPy's special cases
    flat = np.ascontiguousarray(values).reshape(n, -1)
    pairs = np.empty((2 * q.size, flat.shape[1]))
    args = (flat, plan.sign, plan.rank, plan.sample_rank, plan.step, pairs)
    run_parallel(
        [
            partial(_order_stat_pairs, *args, p.start, p.stop)
            for p in split_work(pairs.shape[1], values.size)
        ]
    )
    return _interpolate(plan, pairs, (q.size, *values.shape[1:]))


# Not fastmath: without contraction into FMA the densities are those of the same formula
# in NumPy, bit for bit. error_model="numpy": no zero checks that block vectorisation.
# numba's cache does not see edits to _exp_parts (another file): clear it after those.
@numba.njit(nogil=True, error_model="numpy")
def _fill_densities(
    x: np.ndarray,
    start: int,
    stop: int,
    coef: np.ndarray,
    mu: np.ndarray,
    half_inv: np.ndarray,
    bits: np.ndarray,
    rows: np.ndarray,
) -> None:
    """``rows[i - start, s] = sum_k coef[k, s] * exp(-z**2) ** 2``, z = (x_i - mu) * half_inv.

    For the points i in [start, stop), with mu and half_inv at [k, s]. The loops run over
    the draws s, so they vectorise with the inline ``exp`` of
    :func:`bayesmix.likelihood._exp_parts`, whose power of two is written into the exponent
    bits of ``bits`` (S,), an int64 buffer. exp(-2 z^2) is taken as the square of
    exp(-z^2), so the clamp of ``_exp_parts`` at exp(-700) only acts where the term
    underflows to 0 anyway, and terms below 1e-308 round to subnormals, not to 0.
    """
    pow2 = bits.view(np.float64)
    n_comp, n = mu.shape
    for i in range(start, stop):
        xi = x[i]
        for s in range(n):
            rows[i - start, s] = 0.0
        for k in range(n_comp):
            for s in range(n):
                z = (xi - mu[k, s]) * half_inv[k, s]
                p, e = _exp_parts(-(z * z))
                bits[s] = (np.int64(e) + 1023) << 52
                h = p * pow2[s]
                rows[i - start, s] += coef[k, s] * h * h


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _density_pairs(
    x: np.ndarray,
    coef: np.ndarray,
    mu: np.ndarray,
    half_inv: np.ndarray,
    sign: np.ndarray,
    rank: np.ndarray,
    sample_rank: np.ndarray,
    step: int,
    mean: np.ndarray,
    out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """For the points in [start, stop), 8 at a time: densities, their mean, order statistics.

    The densities of :func:`_fill_densities` go into a tile; ``mean`` gets their mean over
    the draws (summed in order, as NumPy's ``mean(axis=0)`` of the (S, n) array does) and
    ``out`` the order statistics of :func:`_select_tile`.
    """
    n = mu.shape[1]
    tile = np.zeros((_TILE, n))  # zeros: the mean sums all 8 rows, filled by a tile or not
    bits = np.empty(n, dtype=np.int64)
    cand, sample = np.empty(n), np.empty((n + step - 1) // step)
    acc = np.empty(_TILE)
    for c0 in range(start, stop, _TILE):
        g = min(_TILE, stop - c0)
        _fill_densities(x, c0, c0 + g, coef, mu, half_inv, bits, tile)
        for c in range(_TILE):
            acc[c] = 0.0
        for s in range(n):  # 8 running sums side by side: each in NumPy's order
            for c in range(_TILE):
                acc[c] += tile[c, s]
        for c in range(g):
            mean[c0 + c] = acc[c] / n
        _select_tile(tile, g, sign, rank, sample_rank, step, cand, sample, out, c0)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _density_rows(
    x: np.ndarray, coef: np.ndarray, mu: np.ndarray, half_inv: np.ndarray, out: np.ndarray
) -> None:
    """``out[i, s]`` = the density of draw s at ``x[i]``, by :func:`_fill_densities`."""
    _fill_densities(x, 0, x.shape[0], coef, mu, half_inv, np.empty(mu.shape[1], np.int64), out)


def mixture_densities(
    x: np.ndarray, coef: np.ndarray, mu: np.ndarray, half_inv: np.ndarray
) -> np.ndarray:
    """Densities of the draws' mixtures at the points ``x`` (n,), shape (n, S).

    ``sum_k coef[k, s] * exp(-z**2) ** 2`` with ``z = (x_i - mu[k, s]) * half_inv[k, s]``,
    from (K, S) C-contiguous arrays: with ``coef = w / (sigma * sqrt(2 pi))`` and
    ``half_inv = 0.5 / sigma``, the normal mixture's. Exactly the values
    :func:`density_quantiles` works on.
    """
    out = np.empty((x.size, mu.shape[1]))
    _density_rows(x, coef, mu, half_inv, out)
    return out


def density_quantiles(
    x: np.ndarray, coef: np.ndarray, mu: np.ndarray, half_inv: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and quantiles over the draws of :func:`mixture_densities`, without storing them.

    Returns ``(mean, quantiles)`` of shapes (n,) and (q.size, n): the mean summed in
    NumPy's order and ``np.quantile``'s values, bit for bit, of the (S, n) densities. None
    in NumPy's special cases of :func:`quantiles` (a single draw, q = 1, q outside [0, 1]):
    use :func:`mixture_densities` and ``np.quantile`` then. The points are split across
    the cores in blocks of whole tiles.
    """
    n_comp, n = mu.shape
    plan = _plan(n, q)
    if plan is None:
        return None
    mean, pairs = np.empty(x.size), np.empty((2 * q.size, x.size))
    args = (x, coef, mu, half_inv, plan.sign, plan.rank, plan.sample_rank, plan.step)
    parts = split_work(-(-x.size // _TILE), n * x.size * n_comp)
    run_parallel(
        [
            partial(
                _density_pairs, *args, mean, pairs, p.start * _TILE, min(p.stop * _TILE, x.size)
            )
            for p in parts
        ]
    )
    return mean, _interpolate(plan, pairs, (q.size, x.size))
