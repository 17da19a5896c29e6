"""The pointwise log-likelihood group of a fit, computed now or when first read.

ArviZ's LOO reads ``log_likelihood["y"]``, of shape (chain, draw, obs): a million values
at N = 250, 4 x 10^7 at N = 10^4. Few users of a fit ever read it, so a fresh fit holds
it *lazily*, through xarray's lazy-loading protocol (the one its file backends use): the
group is there with its dims, shape and dtype, and its values are computed from the
posterior draws when something reads them (then kept), or only the requested part of
them when something indexes it first. At N = 10^3 that takes ~20 ms off every fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from bayesmix.families import Family, get_family
from bayesmix.posterior.density import Draws, pointwise_log_lik

__all__ = ["lazy_log_likelihood_dataset", "log_likelihood_dataset"]


def _draw_arrays(posterior: xr.DataTree | xr.Dataset, family: Family) -> dict[str, np.ndarray]:
    """Weights and the family's parameters as arrays of shape (chain, draw, component)."""
    return {
        name: np.asarray(posterior[name].transpose("chain", "draw", "component").values)
        for name in ("weights", *family.names)
    }


def _log_lik(arrays: dict[str, np.ndarray], y: np.ndarray, family: Family) -> np.ndarray:
    """Return log p(y_i | theta) for draws of shape (chain, draw, K): (chain, draw, n)."""
    chains, n_draws, k = arrays["weights"].shape
    # (chain, draw) flattened in C order, as xarray's stack would (but ~10x faster)
    flat = {name: v.reshape(chains * n_draws, k) for name, v in arrays.items()}
    weights = flat.pop("weights")
    draws = Draws(family, weights, flat)
    return pointwise_log_lik(y, draws).reshape(chains, n_draws, y.size)


def _coords(posterior: xr.DataTree | xr.Dataset, n: int) -> dict[str, np.ndarray]:
    return {
        "chain": np.asarray(posterior["chain"]),
        "draw": np.asarray(posterior["draw"]),
        "obs": np.arange(n),
    }


def log_likelihood_dataset(
    posterior: xr.DataTree | xr.Dataset, y: np.ndarray, family: str = "normal"
) -> xr.Dataset:
    """Pointwise log-likelihood ``log p(y_i | theta)`` per draw, as ArviZ's LOO expects.

    Computed from the posterior draws with the same maths as the densities (labels summed
    out), in chunks, rather than by PyMC, whose model transforms reject custom starts.
    """
    fam = get_family(family)
    values = _log_lik(_draw_arrays(posterior, fam), np.asarray(y, dtype=np.float64), fam)
    return xr.Dataset({"y": (("chain", "draw", "obs"), values)}, coords=_coords(posterior, len(y)))


class _LazyLogLik(BackendArray):
    """The (chain, draw, obs) log-likelihood, computed for whatever part is read."""

    def __init__(self, arrays: dict[str, np.ndarray], y: np.ndarray, family: Family) -> None:
        self._arrays = arrays
        self._y = y
        self._family = family
        chains, n_draws, _ = arrays["weights"].shape
        self.shape = (chains, n_draws, y.size)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._read
        )

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        chain, draw, obs = key
        # keep (chain, draw, K) dims through integer indices, drop them at the end
        arrays = {
            name: values[np.atleast_1d(np.arange(values.shape[0])[chain])][
                :, np.atleast_1d(np.arange(values.shape[1])[draw])
            ]
            for name, values in self._arrays.items()
        }
        y = np.atleast_1d(self._y[obs])
        out = _log_lik(arrays, y, self._family)
        drop = tuple(
            i for i, k in enumerate((chain, draw, obs)) if isinstance(k, int | np.integer)
        )
        return out.squeeze(axis=drop) if drop else out


def lazy_log_likelihood_dataset(
    posterior: xr.DataTree | xr.Dataset, y: np.ndarray, family: str = "normal"
) -> xr.Dataset:
    """:func:`log_likelihood_dataset`, with values computed when first read.

    The same numbers as :func:`log_likelihood_dataset` (tested); reading all of them
    computes them once and keeps them, reading part of them (``isel``) computes that part.
    """
    y = np.asarray(y, dtype=np.float64)
    fam = get_family(family)
    lazy = indexing.MemoryCachedArray(
        indexing.LazilyIndexedArray(_LazyLogLik(_draw_arrays(posterior, fam), y, fam))
    )
    variable = xr.Variable(("chain", "draw", "obs"), lazy)
    return xr.Dataset({"y": variable}, coords=_coords(posterior, y.size))
