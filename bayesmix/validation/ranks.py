"""Rank statistics of simulation-based calibration: thinning, ranks, uniformity, figures.

Generic helpers, independent of the mixture model: a *rank table* is a DataFrame with one
row per replication and one integer column per parameter, named like ``mu[0]`` (a
variable and an index along ``component``), each rank in ``0..n_thin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

__all__ = ["ALPHA", "chi_square", "pit_tree", "ranks", "thin", "uniformity"]

#: Level of the per-parameter uniformity tests.
ALPHA = 0.01


def thin(draws: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep ``n_keep`` rows of ``draws`` (chains pooled one after another), evenly spaced."""
    n = draws.shape[0]
    if not 1 <= n_keep <= n:
        raise ValueError(f"n_keep={n_keep} must lie in 1..{n}")
    return draws[((np.arange(n_keep) + 0.5) * n / n_keep).astype(int)]


def ranks(truth: Any, draws: Any) -> np.ndarray:
    """Return the rank of each true value among the draws.

    Parameters
    ----------
    truth : array_like, shape (K,)
        True values.
    draws : array_like, shape (L, K)
        Posterior draws (thinned), one column per true value.

    Returns
    -------
    numpy.ndarray of int, shape (K,)
        How many draws lie below each true value, in ``0..L``.
    """
    return np.sum(np.asarray(draws) < np.asarray(truth), axis=0)


def chi_square(rank_values: Any, n_thin: int, n_bins: int = 10) -> tuple[float, float]:
    """Chi-square test that ranks are uniform on ``0..n_thin``.

    Parameters
    ----------
    rank_values : array_like of int
        Ranks, one per replication, each in ``0..n_thin``.
    n_thin : int
        Number of draws the ranks were taken among.
    n_bins : int, default 10
        Number of bins. When ``n_thin + 1`` is not a multiple of it, bins hold unequal
        numbers of rank values and their expected counts follow.

    Returns
    -------
    tuple of float
        The statistic (``n_bins - 1`` degrees of freedom) and its p-value.
    """
    r = np.asarray(rank_values, dtype=int)
    if r.size == 0 or r.min() < 0 or r.max() > n_thin or not 2 <= n_bins <= n_thin + 1:
        raise ValueError(f"need ranks in 0..{n_thin} and 2 <= n_bins <= {n_thin + 1}")
    share = np.bincount(np.arange(n_thin + 1) * n_bins // (n_thin + 1), minlength=n_bins)
    observed = np.bincount(r * n_bins // (n_thin + 1), minlength=n_bins)
    res = stats.chisquare(observed, share / (n_thin + 1) * r.size)
    return float(res.statistic), float(res.pvalue)


def _split(name: str) -> tuple[str, int]:
    var, index = name.rstrip("]").split("[")
    return var, int(index)


def pit_tree(table: pd.DataFrame, n_thin: int, random_seed: int = 0) -> xr.DataTree:
    """Randomised PIT values ``(rank + U) / (n_thin + 1)``, U ~ U(0, 1), as a DataTree.

    Ranks are discrete; adding uniform noise makes the PITs exactly U(0, 1) under
    calibration, as ArviZ's continuous uniformity tests assume.

    Parameters
    ----------
    table : pandas.DataFrame
        Rank table (see the module docstring).
    n_thin : int
        Number of draws the ranks were taken among.
    random_seed : int, default 0
        Seed of the noise.

    Returns
    -------
    xarray.DataTree
        Group ``prior_sbc`` (ArviZ's name for SBC PITs) with one variable per parameter
        name prefix and dims (chain=1, draw=replication, component).
    """
    rng = np.random.default_rng(random_seed)
    pit = (table.to_numpy(dtype=float) + rng.uniform(size=table.shape)) / (n_thin + 1)
    names = [_split(c) for c in table.columns]
    data = {}
    for var in dict.fromkeys(v for v, _ in names):
        cols = [i for i, (v, _) in enumerate(names) if v == var]
        comps = [names[i][1] for i in cols]
        data[var] = xr.DataArray(
            pit[None][..., cols], dims=("chain", "draw", "component"), coords={"component": comps}
        )
    return xr.DataTree.from_dict({"prior_sbc": xr.Dataset(data)})


def uniformity(table: pd.DataFrame, n_thin: int, n_bins: int = 10) -> pd.DataFrame:
    """Test each parameter's ranks for uniformity.

    Parameters
    ----------
    table : pandas.DataFrame
        Rank table (see the module docstring).
    n_thin : int
        Number of draws the ranks were taken among.
    n_bins : int, default 10
        Bins of the chi-square test.

    Returns
    -------
    pandas.DataFrame
        Per parameter: ``chi2``, ``df``, ``p_value``, ``passed`` (``p_value >= ALPHA``)
        and ``pit_ecdf_p_value``, ArviZ's ``pot_c`` test on the randomised PITs.
    """
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    pit = pit_tree(table, n_thin)["prior_sbc"].to_dataset()
    pot = pit.azstats.uniformity_test(dim=["chain", "draw"])[0]
    rows = []
    for name in table.columns:
        chi2, p = chi_square(table[name], n_thin, n_bins)
        var, j = _split(name)
        pot_p = float(pot[var].sel(component=j))
        rows.append({"parameter": name, "chi2": chi2, "df": n_bins - 1, "p_value": p,
                     "passed": p >= ALPHA, "pit_ecdf_p_value": pot_p})  # fmt: skip
    return pd.DataFrame(rows).set_index("parameter")


def plot_rank_histograms(
    table: pd.DataFrame, n_thin: int, path: Path, n_bins: int = 10, ncols: int = 2
) -> None:
    """Save rank histograms, one panel per parameter, with a pointwise 99% binomial band."""
    import matplotlib.pyplot as plt

    nrows = -(-table.shape[1] // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 1.8 * nrows), sharex=True)
    lo, hi = stats.binom.ppf([ALPHA / 2, 1 - ALPHA / 2], len(table), 1 / n_bins)
    for ax, name in zip(np.ravel(axes), table.columns, strict=False):
        ax.axhspan(lo, hi, color="0.85")
        ax.axhline(len(table) / n_bins, color="0.5", lw=0.8)
        ax.hist(table[name], bins=np.linspace(0, n_thin + 1, n_bins + 1))
        ax.set_title(name, fontsize=9)
    fig.supxlabel(f"rank among {n_thin} thinned draws ({len(table)} replications)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_ecdf_pit(table: pd.DataFrame, n_thin: int, path: Path, ncols: int = 2) -> None:
    """Save ArviZ's PIT-ECDF difference plot (with its ``pot_c`` test) of the ranks."""
    import arviz_plots
    import matplotlib.pyplot as plt

    nrows = -(-table.shape[1] // ncols)
    size = {"figsize": (3 * ncols, 2.1 * nrows), "layout": "constrained"}
    pc = arviz_plots.plot_ecdf_pit(pit_tree(table, n_thin), col_wrap=ncols, figure_kwargs=size)
    pc.savefig(path, dpi=80)
    plt.close("all")
