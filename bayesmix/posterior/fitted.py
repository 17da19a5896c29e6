"""What a fitted mixture offers to the stages that present and store it.

The report, plots and files take a fit and read it; :class:`bayesmix.MixtureResult` is
the fit users hold, and it calls them (``res.plot_density()``, ``res.report(...)``,
``res.save(...)``). So that those stages need not import the result, they are typed
against this protocol, which :class:`bayesmix.MixtureResult` satisfies.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.families import Family
from bayesmix.model import MixtureSpec
from bayesmix.posterior.density import Draws

__all__ = ["Fitted"]


class Fitted(Protocol):
    """The read-only face of a fitted mixture (see :class:`bayesmix.MixtureResult`)."""

    @property
    def idata(self) -> xr.DataTree:
        """The DataTree of the fit."""

    @property
    def spec(self) -> MixtureSpec:
        """The resolved spec."""

    @property
    def family(self) -> Family:
        """The component family."""

    @property
    def data(self) -> np.ndarray:
        """The observations."""

    @property
    def n_components(self) -> int:
        """Number of components K."""

    @property
    def sampler_settings(self) -> dict[str, Any]:
        """How the posterior was sampled."""

    @property
    def draws(self) -> Draws:
        """Posterior draws, flattened over chains."""

    @property
    def components(self) -> pd.DataFrame:
        """Per-component table with intervals."""

    @property
    def diagnostics(self) -> Any:
        """Convergence diagnostics (:class:`bayesmix.Diagnostics`)."""

    def summary(
        self, var_names: list[str] | None = None, ci_prob: float | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """ArviZ summary of the posterior."""

    def grid(self, n_points: int = 500, pad: float = 0.1) -> np.ndarray:
        """Evenly spaced points over the data's range."""

    def density(self, x: Any = None, ci_prob: float | None = None) -> pd.DataFrame:
        """Predictive density with a pointwise band."""

    def membership(self, x: Any = None, ci_prob: float | None = None) -> pd.DataFrame:
        """Membership probabilities with intervals."""

    def predict(self, x: Any = None) -> np.ndarray:
        """Most probable component of each point."""
