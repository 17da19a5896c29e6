"""The components table: each component's weight and parameters with credible intervals.

The table is wide and numeric (``weight``, ``weight_lower``, ``weight_upper``, ``mean``,
...), for code. Printed, it shows one cell per quantity, ``0.59 [0.52, 0.65]``, so that
the estimates fit an 80-column terminal (pandas would hide the middle columns of the wide
frame); any operation on it returns a plain DataFrame.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bayesmix.posterior.density import Draws

__all__ = ["ComponentsTable", "components_table"]


class ComponentsTable(pd.DataFrame):
    """A wide components table (a DataFrame) that prints compactly."""

    @property
    def _constructor(self) -> Any:
        return pd.DataFrame  # slices and arithmetic give plain frames, printed in full

    def compact(self) -> pd.DataFrame:
        """Return the table as text cells ``"estimate [lower, upper]"``, one per quantity."""
        labels = [c for c in self.columns if not c.endswith(("_lower", "_upper"))]
        cells = {}
        for label in labels:
            est, lo, hi = (self[f"{label}{s}"].to_numpy() for s in ("", "_lower", "_upper"))
            d = _decimals(hi - lo)
            cells[label] = [
                f"{_fmt(e, d)} [{_fmt(a, d)}, {_fmt(b, d)}]"
                for e, a, b in zip(est, lo, hi, strict=True)
            ]
        return pd.DataFrame(cells, index=self.index)

    def _footer(self) -> str:
        prob = self.attrs.get("ci_prob")
        interval = "" if prob is None else f"{prob:.0%} equal-tailed intervals; "
        return f"({interval}columns {', '.join(map(str, self.columns[:2]))}, ...)"

    def __repr__(self) -> str:
        """Show the compact table and where the numbers are."""
        return f"{self.compact().to_string()}\n{self._footer()}"

    def _repr_html_(self) -> str:
        """Show the compact table in notebooks."""
        html = self.compact().to_html()
        return f"{html}<p><small>{self._footer()}</small></p>"


def _fmt(value: float, decimals: int) -> str:
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}"  # + 0.0: no "-0.00"


def _decimals(widths: np.ndarray) -> int:
    """Decimals that show an interval of the smallest width to two significant digits."""
    finite = widths[np.isfinite(widths) & (widths > 0)]
    if not finite.size:
        return 2
    return int(min(max(1 - math.floor(math.log10(float(finite.min()))), 0), 8))


def components_table(draws: Draws, ci_prob: float) -> ComponentsTable:
    """Return the posterior mean and equal-tailed ``ci_prob`` interval of each component.

    Columns ``weight``, ``weight_lower``, ``weight_upper``, then the same for each of the
    family's parameters by its label (``mean``, ``sigma``, ``nu``); one row per component.
    """
    tail = (1.0 - ci_prob) / 2.0
    table = {}
    names = ("weights", *draws.family.names)
    labels = ("weight", *(p.label for p in draws.family.parameters))
    for name, label in zip(names, labels, strict=True):
        values = draws[name]
        table[label] = values.mean(axis=0)
        table[f"{label}_lower"] = np.quantile(values, tail, axis=0)
        table[f"{label}_upper"] = np.quantile(values, 1.0 - tail, axis=0)
    frame = ComponentsTable(table, index=pd.RangeIndex(draws.n_components, name="component"))
    frame.attrs["ci_prob"] = ci_prob
    return frame
