"""Exact PSIS-LOO in blocks of observations, for fits too large to hold the log-likelihood.

PSIS-LOO treats every observation on its own: its elpd and Pareto k depend only on the
column ``log p(y_i | theta_s)`` over draws s. So the pointwise log-likelihood never has
to exist in full: it is computed for a block of observations at a time (at most
``BLOCK_VALUES`` values, 80 MB), passed to :func:`arviz_stats.loo`, and the pointwise
results are joined. ArviZ's PSIS holds about a dozen arrays of the block's size at once
(measured: a 400 MB block peaked at 2.7 GB), hence small blocks, which cost no time:
the cost, ~0.65 ms per observation with 4000 draws, is ArviZ's per-observation
smoothing (~11 minutes at N = 10^6).

The relative efficiency ``r_eff`` is computed once from
the posterior, as ArviZ does, so the result equals one ``loo`` call on the full array
(a test checks this); ``log_weights`` (draws x N) are not kept.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr
from arviz_stats import loo
from arviz_stats.utils import ELPDData

from bayesmix.families import get_family
from bayesmix.posterior.loglik import log_likelihood_dataset

__all__ = ["BLOCK_VALUES", "block_loo"]

#: Log-likelihood values per block (80 MB); the peak memory is about 12x that.
BLOCK_VALUES = 10_000_000


def _r_eff(posterior: xr.Dataset) -> float:
    """ArviZ's relative efficiency: mean ESS over posterior variables / draws."""
    n_samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = posterior.azstats.ess(method="mean")
    return float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)


def block_loo(
    posterior: xr.Dataset,
    y: np.ndarray,
    max_values: int = BLOCK_VALUES,
    family: str = "normal",
) -> ELPDData:
    """PSIS-LOO of a mixture fit, computed in blocks of at most ``max_values`` values.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior draws of ``weights``, ``mu`` and ``sigma`` (dims chain, draw, component).
    y : numpy.ndarray
        The observations.
    max_values : int, default BLOCK_VALUES
        Largest number of log-likelihood values held at once.
    family : str, default "normal"
        The component family of the fit.

    Returns
    -------
    arviz_stats.utils.ELPDData
        As :func:`arviz_stats.loo` with ``pointwise=True``, without ``log_weights``.
    """
    reff = _r_eff(posterior)  # over every posterior variable, as ArviZ does
    posterior = posterior[["weights", *get_family(family).names]]
    n_samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    block = max(1, max_values // n_samples)
    parts = []
    for start in range(0, y.size, block):
        ll = log_likelihood_dataset(posterior, y[start : start + block], family)
        ll = ll.assign_coords(obs=np.arange(start, start + ll.sizes["obs"]))
        tree = xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": ll})
        part = loo(tree, pointwise=True, var_name="y", reff=reff)
        parts.append(dataclasses.replace(part, log_weights=None))
    elpd_i = xr.concat([p.elpd_i for p in parts], dim="obs")
    pareto_k = xr.concat([p.pareto_k for p in parts], dim="obs")
    elpd = float(elpd_i.sum())
    return dataclasses.replace(
        parts[0],
        elpd=elpd,
        se=float(np.sqrt(y.size * np.var(elpd_i.values, ddof=1))) if y.size > 1 else 0.0,
        p=float(sum(p.p for p in parts)),
        n_data_points=int(y.size),
        warning=any(p.warning for p in parts),
        elpd_i=elpd_i,
        pareto_k=pareto_k,
    )
