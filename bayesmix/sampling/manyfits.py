"""The result of ``fit_many``: each group's fit, failure or verdict, and combined tables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayesmix.result import MixtureResult

__all__ = ["GroupRecord", "ManyFits"]


@dataclass(frozen=True)
class GroupRecord:
    """What happened to one group.

    Attributes
    ----------
    name : str
        The group.
    seed : int
        Its seed, derived from the run's ``random_seed`` and the name.
    result : MixtureResult or None
        The fit, or None if the group failed.
    error : str or None
        Why it failed (bad data, a sampling error, a lost worker), or None.
    file : str or None
        Where the fit was written, with ``out=``.
    resumed : bool
        True if the fit was read from ``out`` (written by an earlier run) and not refitted.
    """

    name: str
    seed: int
    result: MixtureResult | None = None
    error: str | None = None
    file: str | None = None
    resumed: bool = False

    @property
    def status(self) -> str:
        """``"ok"``, ``"not converged"`` or ``"failed"``."""
        if self.result is None:
            return "failed"
        return "ok" if self.result.diagnostics.converged else "not converged"


@dataclass(frozen=True)
class ManyFits(Mapping[str, MixtureResult]):
    """Fits of many groups: a mapping group -> :class:`MixtureResult` of those that ran.

    Failed groups are not in the mapping; :attr:`failures` has their messages and
    :attr:`convergence` a row for every group.
    """

    records: dict[str, GroupRecord]
    random_seed: int
    out: str | None = None
    _fits: dict[str, MixtureResult] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fits = {n: r.result for n, r in self.records.items() if r.result is not None}
        object.__setattr__(self, "_fits", fits)

    def __getitem__(self, name: str) -> MixtureResult:
        try:
            return self._fits[name]
        except KeyError:
            if name in self.records:
                raise KeyError(f"group {name!r} failed: {self.records[name].error}") from None
            raise KeyError(f"no group {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._fits)

    def __len__(self) -> int:
        return len(self._fits)

    @property
    def failures(self) -> dict[str, str]:
        """Group -> message, for every group that failed."""
        return {n: r.error or "" for n, r in self.records.items() if r.result is None}

    @property
    def seeds(self) -> dict[str, int]:
        """Group -> the seed its fit used."""
        return {n: r.seed for n, r in self.records.items()}

    @property
    def convergence(self) -> pd.DataFrame:
        """One row per group: status, max r_hat, min ESS, divergences, problems, error."""
        rows = []
        for name, rec in self.records.items():
            row: dict[str, Any] = {"group": name, "status": rec.status, "seed": rec.seed}
            if rec.result is not None:
                d = rec.result.diagnostics
                ess = d.table[["ess_bulk", "ess_tail"]].min(axis=1)
                row |= {
                    "max_r_hat": float(d.table["r_hat"].max()),
                    "min_ess": float(ess.min()),
                    "divergences": d.divergences,
                    "problems": " | ".join(d.problems + d.component_issues),
                }
            row |= {"error": rec.error or "", "resumed": rec.resumed, "file": rec.file or ""}
            rows.append(row)
        frame = pd.DataFrame(rows).set_index("group")
        for col in ("max_r_hat", "min_ess"):
            if col not in frame:
                frame[col] = np.nan
        return frame

    @property
    def components(self) -> pd.DataFrame:
        """Every fitted group's components table, tidy: one row per group and component."""
        frames = [
            pd.DataFrame(fit.components).reset_index().assign(group=name)
            for name, fit in self._fits.items()
        ]
        if not frames:
            return pd.DataFrame(columns=["group", "component"])
        table = pd.concat(frames, ignore_index=True)
        return table[["group", *[c for c in table.columns if c != "group"]]]

    def __repr__(self) -> str:
        status = pd.Series([r.status for r in self.records.values()]).value_counts()
        counts = ", ".join(f"{n} {s}" for s, n in status.items())
        where = f"; written to {self.out!r}" if self.out else ""
        return f"<ManyFits: {len(self.records)} groups ({counts}); seed {self.random_seed}{where}>"
