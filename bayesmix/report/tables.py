"""Tidy tables of densities and memberships with their bands, as the result returns them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.posterior import density as dens

__all__ = ["density_frame", "membership_frame"]


def density_frame(x: np.ndarray, draws: dens.Draws, ci_prob: float) -> pd.DataFrame:
    """Columns ``x``, ``mean``, ``lower``, ``upper``; ``attrs["ci_prob"]``."""
    band = dens.density_band(x, draws, ci_prob)
    frame = pd.DataFrame({"x": x, "mean": band.mean, "lower": band.lower, "upper": band.upper})
    frame.attrs["ci_prob"] = band.ci_prob
    return frame


def membership_frame(x: np.ndarray, draws: dens.Draws, ci_prob: float) -> pd.DataFrame:
    """One row per (point, component): ``point``, ``x``, ``component``, mean and band."""
    band = dens.membership_band(x, draws, ci_prob)
    k = draws.n_components
    frame = pd.DataFrame(
        {
            "point": np.repeat(np.arange(x.size), k),
            "x": np.repeat(x, k),
            "component": np.tile(np.arange(k), x.size),
            "mean": band.mean.ravel(),
            "lower": band.lower.ravel(),
            "upper": band.upper.ravel(),
        }
    )
    frame.attrs["ci_prob"] = band.ci_prob
    return frame
