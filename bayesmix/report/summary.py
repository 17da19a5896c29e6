"""The posterior summary table: ArviZ's ``summary``, computed batched for the default call.

``arviz_stats.summary`` spends ~60 ms on nine scalar parameters (xarray plumbing and one
diagnostic at a time), as long as a tenth of a whole fit at N = 10^3. For the call
users make (default ``kind``, ``fmt``, ``ci_kind="eti"`` and rounding) this module
builds the same table from arrays: mean, sd and interval with NumPy, r_hat and ESS taken
from the fit's diagnostics (the same algorithms on the same draws) or computed by
:mod:`bayesmix.diagnostics.mcmcstats`, and ArviZ's own display formatting. Any other option goes to
ArviZ itself. Tested equal to ``arviz_stats.summary``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from arviz_base import rcParams
from arviz_stats import summary as az_summary

from bayesmix.diagnostics import mcmcstats

try:  # ArviZ's display rules for the table (private; without them, ArviZ does it all)
    from arviz_stats.summary import SummaryDataFrame, _build_fmt_map

    _HAVE_FORMAT = True
except ImportError:  # pragma: no cover - a future arviz-stats
    _HAVE_FORMAT = False

__all__ = ["summary_table"]

#: Summary columns that come from the convergence diagnostics.
DIAGNOSTIC_COLUMNS = ("ess_bulk", "ess_tail", "r_hat")


class _SummaryTable(SummaryDataFrame):
    """ArviZ's ``SummaryDataFrame``, its display formats worked out when first shown.

    ArviZ builds them cell by cell with pandas (~3 ms for nine parameters, more than the
    numbers) whether or not the table is ever printed. Here they are built on first
    display, from the numbers as they are then; slices and copies get them built.
    """

    def __init__(self, table: pd.DataFrame, round_to: Any) -> None:
        super().__init__(table)
        object.__setattr__(self, "_round_to", round_to)

    @property
    def _fmt_map(self) -> dict[str, dict[Any, str]] | None:
        formats = self.__dict__.get("_formats")
        if formats is None and "_round_to" in self.__dict__:  # (None while initialised)
            formats = _build_fmt_map(pd.DataFrame(self), self.__dict__["_round_to"])
            object.__setattr__(self, "_formats", formats)
        return formats

    @_fmt_map.setter
    def _fmt_map(self, value: dict[str, dict[Any, str]] | None) -> None:
        object.__setattr__(self, "_formats", value)


def _fast_path(kwargs: dict[str, Any]) -> bool:
    """Whether the call is one the batched path reproduces exactly."""
    return (
        _HAVE_FORMAT
        and not kwargs
        and rcParams["stats.ci_kind"] == "eti"
        and tuple(rcParams["data.sample_dims"]) == ("chain", "draw")
    )


def _rows(posterior: xr.Dataset, var_names: list[str]) -> tuple[list[str], np.ndarray]:
    """Labels like ArviZ's (``mu[0]``) and the draws, shape (row, chain, draw)."""
    labels, arrays = [], []
    for name in var_names:
        da = posterior[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if da.dims[:2] != ("chain", "draw"):  # as sampled, they come first: no transpose
            da = da.transpose("chain", "draw", *extra)
        values = np.asarray(da)
        if not extra:
            labels.append(name)
            arrays.append(values[None])
            continue
        flat = values.reshape(values.shape[0], values.shape[1], -1)
        coords = [np.asarray(da[dim]) for dim in extra]
        for j, index in enumerate(np.ndindex(*values.shape[2:])):
            label = ", ".join(str(c[i]) for c, i in zip(coords, index, strict=True))
            labels.append(f"{name}[{label}]")
            arrays.append(flat[None, :, :, j])
    return labels, np.concatenate(arrays).astype(np.float64, copy=False)


def summary_table(
    posterior: xr.Dataset,
    var_names: list[str],
    ci_prob: float,
    known: pd.DataFrame | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """ArviZ's summary of ``var_names``: mean, sd, interval, ESS, r_hat, MCSE.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``chain`` and ``draw`` first.
    var_names : list of str
        Variables to summarise, in order.
    ci_prob : float
        Probability of the equal-tailed interval.
    known : pandas.DataFrame, optional
        ``r_hat``, ``ess_bulk`` and ``ess_tail`` already computed for some rows (the
        fit's diagnostics table), indexed by row label; the other rows are computed.
    **kwargs
        Options of :func:`arviz_stats.summary`; any option sends the call to ArviZ.

    Returns
    -------
    pandas.DataFrame
        ArviZ's ``SummaryDataFrame``, one row per scalar parameter.
    """
    if not _fast_path(kwargs):
        return az_summary(posterior, var_names=var_names, ci_prob=ci_prob, **kwargs)
    labels, x = _rows(posterior, var_names)
    flat = x.reshape(x.shape[0], -1)
    edge = (1 - ci_prob) / 2
    lower, upper = np.quantile(flat.T, [edge, 1 - edge], axis=0)
    diag = np.full((len(DIAGNOSTIC_COLUMNS), len(labels)), np.nan)
    if known is not None:
        at = known.index.get_indexer(pd.Index(labels))
        found = at >= 0
        # the tail ESS depends on ArviZ's ci_prob when it was computed
        same_tail = known.attrs.get("tail_prob") == mcmcstats.tail_prob(None)
        for i, column in enumerate(DIAGNOSTIC_COLUMNS):
            if column != "ess_tail" or same_tail:
                diag[i, found] = known[column].to_numpy(dtype=float)[at[found]]
    missing = np.isnan(diag).any(axis=0)
    if missing.any():
        r_hat, bulk, tail = mcmcstats.convergence(x[missing])
        diag[:, missing] = np.stack((bulk, tail, r_hat))
    mcse_mean, mcse_sd = mcmcstats.mcse(x)
    perc = int(ci_prob * 100)  # ArviZ's column label
    table = pd.DataFrame(
        {
            "mean": flat.mean(axis=-1),
            "sd": flat.std(axis=-1, ddof=1),
            f"eti{perc}_lb": lower,
            f"eti{perc}_ub": upper,
            "ess_bulk": diag[0],
            "ess_tail": diag[1],
            "r_hat": diag[2],
            "mcse_mean": mcse_mean,
            "mcse_sd": mcse_sd,
        },
        index=labels,
    )
    return _SummaryTable(table, rcParams["stats.round_to"])
