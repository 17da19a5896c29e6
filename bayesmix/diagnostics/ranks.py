"""The multi-chain rank uniformity test, shared by the convergence checks and the rank plot.

If every chain samples the same distribution, each chain's fractional ranks (ranks in the
pooled draws) are uniform. arviz_stats' ``mchain_uniformity_test`` (the test behind
arviz_plots' ``plot_rank``) gives one p-value per quantity. Here it runs on each model
parameter, the panels of the report's rank figure, with one family-wise level: each
panel is tested at ``RANK_ALPHA / m`` (Bonferroni over the m panels), so that a fit whose
chains mix well raises the alarm on at most ``RANK_ALPHA`` of fits, however many
components it has. The figure and the verdict use the same draws and the same level, so
they cannot disagree.

The test's cost grows with the square of the draws per chain (0.12 s per quantity at
1000, 12 s at 4000), so it runs on the draws thinned evenly to at most
``RANK_MAX_DRAWS`` per chain.
"""

from __future__ import annotations

import arviz_stats  # noqa: F401  (importing it registers the .azstats accessor)
import numpy as np
import xarray as xr

__all__ = ["RANK_ALPHA", "RANK_MAX_DRAWS", "panel_alpha", "rank_p_values", "rank_step",
           "thin_for_ranks"]  # fmt: skip

#: Family-wise false-alarm level of the rank test over all panels of one fit.
RANK_ALPHA = 0.01
#: The rank test runs on at most this many evenly spaced draws per chain.
RANK_MAX_DRAWS = 1000


def panel_alpha(n_panels: int) -> float:
    """Return the level each of ``n_panels`` rank panels is tested at (Bonferroni)."""
    return RANK_ALPHA / max(n_panels, 1)


def rank_step(n_draws: int) -> int:
    """Return the smallest step keeping at most :data:`RANK_MAX_DRAWS` draws per chain."""
    return max(-(-n_draws // RANK_MAX_DRAWS), 1)


def thin_for_ranks(posterior: xr.Dataset) -> xr.Dataset:
    """Every :func:`rank_step`-th draw of ``posterior``: the draws the rank test sees."""
    return posterior.isel(draw=slice(None, None, rank_step(posterior.sizes["draw"])))


def rank_p_values(values: np.ndarray) -> np.ndarray:
    """p-value of the multi-chain rank uniformity test for each quantity.

    Parameters
    ----------
    values : numpy.ndarray
        Draws of shape (quantity, chain, draw); thinned here by :func:`rank_step`.

    Returns
    -------
    numpy.ndarray
        One p-value per quantity; NaN with fewer than 2 chains or a constant quantity.
    """
    values = values[:, :, :: rank_step(values.shape[2])]
    n_q, n_chains = values.shape[:2]
    out = np.full(n_q, np.nan)
    varies = np.ptp(values.reshape(n_q, -1), axis=1) > 0
    if n_chains < 2 or not varies.any():
        return out
    da = xr.DataArray(values[varies], dims=("quantity", "chain", "draw"))
    ranks = da.azstats.compute_ranks(dim=["chain", "draw"], relative=True)
    p_value, _, _ = ranks.azstats.mchain_uniformity_test(dim=["chain", "draw"])
    out[varies] = np.asarray(p_value, dtype=float)
    return out
