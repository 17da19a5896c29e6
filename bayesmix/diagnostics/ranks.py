"""The multi-chain rank uniformity test, shared by the convergence checks and the rank plot.

If every chain samples the same distribution, each chain's fractional ranks (ranks in the
pooled draws) are uniform. arviz_stats' ``mchain_uniformity_test`` (the test behind
arviz_plots' ``plot_rank``) gives one p-value per quantity. Here it runs on each model
parameter, the panels of the report's rank figure, with one family-wise level: each
panel is tested at ``RANK_ALPHA / m`` (Bonferroni over the m panels), so that a fit whose
chains mix well raises the alarm on at most ``RANK_ALPHA`` of fits, however many
components it has. The figure and the verdict use the same draws and the same level, so
they cannot disagree.

The test treats draws as independent. On autocorrelated chains it rejects chains that
sample one distribution perfectly (measured on AR(1) chains of 4 x 1000 with the same
distribution: 23% of p-values under 0.01 at lag-one correlation 0.5, 83% at 0.8; the
p = 0.00 on every panel of a well-converged fit in issue 19). So it runs on every
``s``-th draw, with ``s`` the draws per chain over the smallest single-chain ESS of the
parameters: nearly independent draws (then 2-4% under 0.01, ~0% under 0.01 / 9), while a
chain shifted by half a posterior sd is still flagged (25% at correlation 0.8, 99% at
0.5). ``s`` also keeps at most ``RANK_MAX_DRAWS`` per chain: the test's cost grows with
the square of the draws (0.12 s per quantity at 1000, 12 s at 4000).
"""

from __future__ import annotations

import arviz_stats  # noqa: F401  (importing it registers the .azstats accessor)
import numpy as np
import xarray as xr

from bayesmix.diagnostics.mcmcstats import convergence

__all__ = ["RANK_ALPHA", "RANK_MAX_DRAWS", "p_text", "panel_alpha", "rank_p_values", "rank_step"]

#: Family-wise false-alarm level of the rank test over all panels of one fit.
RANK_ALPHA = 0.01
#: The rank test runs on at most this many evenly spaced draws per chain.
RANK_MAX_DRAWS = 1000


def panel_alpha(n_panels: int) -> float:
    """Return the level each of ``n_panels`` rank panels is tested at (Bonferroni)."""
    return RANK_ALPHA / max(n_panels, 1)


def p_text(p: float) -> str:
    """Return ``p`` as printed by the checks and the figure: "p=0.39", "p<0.0001"."""
    return f"p={p:.2g}" if p >= 1e-4 else "p<0.0001"


def rank_step(values: np.ndarray) -> int:
    """Return the step between the draws the rank test uses (see the module docstring).

    ``values`` has shape (quantity, chain, draw).
    """
    n_q, n_chains, n_draws = values.shape
    _, bulk, tail = convergence(values.reshape(n_q * n_chains, 1, n_draws))
    ess = np.fmin(bulk, tail)
    ess = ess[np.isfinite(ess) & (ess > 0)]
    by_ess = int(n_draws // ess.min()) if ess.size else 1  # ArviZ's thin_factor rule
    return max(1, by_ess, -(-n_draws // RANK_MAX_DRAWS))


def rank_p_values(values: np.ndarray) -> tuple[np.ndarray, int]:
    """p-value of the multi-chain rank uniformity test for each quantity, and the step.

    Parameters
    ----------
    values : numpy.ndarray
        Draws of shape (quantity, chain, draw); thinned here by :func:`rank_step`.

    Returns
    -------
    (numpy.ndarray, int)
        One p-value per quantity (NaN with fewer than 2 chains or a constant quantity)
        and the step between the draws tested.
    """
    n_q, n_chains = values.shape[:2]
    out = np.full(n_q, np.nan)
    varies = np.ptp(values.reshape(n_q, -1), axis=1) > 0
    if n_chains < 2 or not varies.any():
        return out, 1
    step = rank_step(values[varies])
    da = xr.DataArray(values[varies, :, ::step], dims=("quantity", "chain", "draw"))
    ranks = da.azstats.compute_ranks(dim=["chain", "draw"], relative=True)
    p_value, _, _ = ranks.azstats.mchain_uniformity_test(dim=["chain", "draw"])
    out[varies] = np.asarray(p_value, dtype=float)
    return out, step
