"""Score fits of one data set by PSIS-LOO and select one by a stated rule: ``Comparison``.

Each fit is scored by ArviZ's PSIS-LOO on its pointwise log-likelihood (labels summed
out). Observations with Pareto k > 0.7 are retried by ArviZ's moment matching on the PyMC
model; what stays high is counted and warned about. Fits that did not converge are
flagged and never selected. Fits of one family are keyed by their number of components;
fits of several families by ``(family, n_components)``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats import compare as az_compare
from arviz_stats import loo, loo_moment_match

from bayesmix.diagnostics.checks import EXTENSION_ATTR, ComponentWarning, ConvergenceWarning
from bayesmix.families import FAMILIES
from bayesmix.model.build import build_model
from bayesmix.posterior.blockloo import block_loo
from bayesmix.posterior.loglik import log_likelihood_dataset
from bayesmix.result import MixtureResult
from bayesmix.sampling.nuts import LOG_LIK_MAX_VALUES

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData
    from matplotlib.axes import Axes

__all__ = ["Comparison", "FitKey", "LOOWarning", "n_parameters"]

#: A fit's key: its number of components, or (family, n_components) across families.
FitKey = int | tuple[str, int]
#: Pareto k above which PSIS-LOO for an observation is unreliable (Vehtari et al. 2024).
K_HIGH = 0.7
#: Our warnings point at the first caller outside this package.
_SKIP = (os.path.dirname(__file__),)
#: ArviZ warnings replaced by our own count of high Pareto k values.
_SUMMARISED = (
    "Estimated shape parameter of Pareto distribution",
    r"Observation \d+: Moment matching did not improve",
    "After Moment Matching",
)


class LOOWarning(UserWarning):
    """PSIS-LOO of a fit is unreliable (Pareto k > 0.7) or could not be computed."""


def n_parameters(result: MixtureResult) -> int:
    """Free parameters of a fit: K - 1 weights and each component's parameters."""
    k = result.n_components
    return k - 1 + k * len(result.family.parameters)


def _label(key: FitKey) -> str:
    return f"K={key}" if isinstance(key, int) else f"{key[0]} K={key[1]}"


def _checked_fits(fits: Mapping[FitKey, MixtureResult]) -> dict[FitKey, MixtureResult]:
    """Return ``fits`` in table order, after checking keys and data (see from_fits)."""
    if not fits:
        raise ValueError("fits is empty; pass {n_components: MixtureResult, ...}")
    by_k = all(isinstance(key, int) for key in fits)
    if by_k:
        families = sorted({res.spec.family for res in fits.values()})
        if len(families) > 1:
            raise ValueError(
                f"fits hold the families {families}; key them by (family, n_components), "
                "e.g. {('normal', 2): fit, ('student_t', 2): other}"
            )
    for key, res in fits.items():
        own = res.n_components if by_k else (res.spec.family, res.n_components)
        if key != own:
            raise ValueError(f"fits[{key!r}] is the fit of {own!r}; key each fit by {own!r}")
    order = list(FAMILIES)
    ordered = dict(
        sorted(fits.items(), key=lambda kv: (order.index(kv[1].spec.family), kv[1].n_components))
    )
    first = next(iter(ordered.values()))
    for key, res in ordered.items():
        if not np.array_equal(res.data, first.data):
            raise ValueError(f"fits[{key!r}] was fitted to different data; compare one data set")
    return ordered


def _score(result: MixtureResult, moment_match: bool) -> tuple[ELPDData | None, list[str]]:
    """PSIS-LOO of one fit (moment-matched where k > 0.7; None if it fails), with notes."""
    tree = result.idata
    if "log_likelihood" not in tree.children:  # left out of large fits, or built by hand
        posterior = tree["posterior"].to_dataset()
        n_values = posterior.sizes["chain"] * posterior.sizes["draw"] * result.data.size
        if n_values > LOG_LIK_MAX_VALUES:  # bounded memory: exact LOO, block by block
            note = "PSIS-LOO in blocks (large N); moment matching skipped"
            return block_loo(posterior, result.data, family=result.spec.family), [note]
        tree = tree.copy()
        ll = log_likelihood_dataset(posterior, result.data, result.spec.family)
        tree["log_likelihood"] = xr.DataTree(ll)
    with warnings.catch_warnings():
        for message in _SUMMARISED:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        try:
            elpd = loo(tree, pointwise=True, var_name="y")
        except ValueError as err:  # e.g. "All tail values are the same": a stuck chain
            return None, [f"PSIS-LOO failed ({err}; is a chain stuck?), so it is not scored"]
        n_high = _n_high(elpd)
        if not (n_high and moment_match):
            return elpd, []
        try:
            # the fused likelihood has no pointwise terms: use the per-observation twin
            pointwise_model = build_model(result.data, result.spec, pointwise=True)
            elpd = loo_moment_match(
                tree, elpd, var_name="y", k_threshold=K_HIGH, pointwise=True, model=pointwise_model
            )
        except Exception as err:  # best effort: the fallback is reported, not hidden
            return elpd, [f"moment matching failed ({type(err).__name__}: {str(err)[:80]})"]
    return elpd, [f"moment matching: {n_high} -> {_n_high(elpd)} with Pareto k > {K_HIGH}"]


def _n_high(elpd: ELPDData | None) -> int | None:
    return None if elpd is None else int((elpd.pareto_k.values > K_HIGH).sum())


def _problems(key: FitKey, result: MixtureResult, n_high: int | None, notes: list[str]) -> str:
    """Return the table's note on one fit, warning once per kind of problem."""
    diag, label = result.diagnostics, _label(key)
    kinds = (
        (diag.problems, ConvergenceWarning, "did not converge, so it is never selected"),
        (diag.component_issues, ComponentWarning, "has empty or collapsed components"),
    )
    if diag.only_ess_short:  # eligible, flagged (compare's rule)
        kinds = ((diag.problems, ConvergenceWarning,
                  "is short of ESS only, so it stays eligible, flagged"), kinds[1])  # fmt: skip
    for found, category, what in kinds:
        if found:
            notes = [*notes, f"{category.__name__}: {len(found)} (see .fits[{key!r}].diagnostics)"]
            message = f"{label}: the fit {what}: " + " | ".join(found)
            warnings.warn(message, category, skip_file_prefixes=_SKIP)
    if n_high is None:
        warnings.warn(f"{label}: {notes[0]}", LOOWarning, skip_file_prefixes=_SKIP)
    elif n_high:
        notes = [*notes, f"{n_high} obs. with Pareto k > {K_HIGH}"]
        warnings.warn(
            f"{label}: {n_high} observation(s) have Pareto k > {K_HIGH} after moment matching "
            "(if it ran), so its PSIS-LOO estimate may be biased, usually optimistically; "
            "check it by exact k-fold cross-validation (arviz_stats.loo_kfold with a wrapper "
            "that refits bayesmix.fit on each fold)",
            LOOWarning,
            skip_file_prefixes=_SKIP,
        )
    return "; ".join(notes)


def _eligible(result: MixtureResult) -> bool:
    """Return True for a fit ``compare`` may select: converged, or short of ESS only."""
    return result.converged or result.diagnostics.only_ess_short


def _select(table: pd.DataFrame) -> Any:
    """Return the simplest eligible fit with ``elpd_diff >= -dse`` (``compare``'s rule).

    Simplest: fewest free parameters (``n_parameters``), then first in the table; within
    one family that is the smallest K.
    """
    scored = table[table["elpd_diff"].notna()]
    pool = scored[scored["eligible"]] if scored["eligible"].any() else scored
    eligible = pool[pool["elpd_diff"] >= -pool["dse"]]
    label = eligible.index[int(np.argmin(eligible["n_parameters"].to_numpy()))]
    # pandas hands back NumPy scalars; keys are Python ints (and (str, int) pairs)
    return int(label) if not isinstance(label, tuple) else (str(label[0]), int(label[1]))


@dataclass(frozen=True, repr=False)
class Comparison:
    """Fits of one data set, scored by PSIS-LOO, with one selected.

    Made by :func:`bayesmix.compare` (which fits each candidate) or :meth:`from_fits`
    (existing fits). Fits of one family are keyed by K; across families by
    ``(family, K)``, and the table's index has both levels.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fit (index ``n_components``, or ``family`` and ``n_components``):
        ``elpd_loo`` and its ``se``; ``elpd_diff`` from the best eligible fit and its
        standard error ``dse``; ``p_loo``; ``n_parameters`` (free parameters);
        ``weight`` (stacking weight among the eligible fits, NaN for the others);
        ``n_high_pareto_k`` (observations with Pareto k > 0.7 after moment matching);
        ``converged``; ``eligible`` (converged, or failing only the ESS check after
        its extension: see :func:`bayesmix.compare`); ``draws`` (per chain, after any
        extension) and ``extended`` (whether sampling was extended to the ESS target,
        :mod:`bayesmix.sampling.extend`); ``problems`` (notes, "" if none). A fit
        PSIS-LOO could not score has NaN numbers.
    best_key : int or (str, int)
        The selected fit's key (see :func:`bayesmix.compare` for the rule).
    fits : mapping of key to MixtureResult
        Every fit, by key.
    elpd : mapping of key to arviz_stats.ELPDData
        ArviZ's LOO result of each scored fit, with pointwise values and Pareto k.
    """

    table: pd.DataFrame
    best_key: FitKey
    fits: Mapping[Any, MixtureResult]
    elpd: Mapping[Any, ELPDData]

    @property
    def best(self) -> MixtureResult:
        """The selected fit."""
        return self.fits[self.best_key]

    @property
    def best_k(self) -> int:
        """The selected fit's number of components."""
        return self.best.n_components

    @property
    def best_family(self) -> str:
        """The selected fit's component family."""
        return self.best.spec.family

    @property
    def families(self) -> list[str]:
        """The families compared, in table order."""
        return list(dict.fromkeys(res.spec.family for res in self.fits.values()))

    @classmethod
    def from_fits(
        cls, fits: Mapping[Any, MixtureResult], *, moment_match: bool = True
    ) -> Comparison:
        """Score existing fits of the same data by PSIS-LOO and select one.

        Parameters
        ----------
        fits : mapping of int or (str, int) to MixtureResult
            Fits of the same observations, keyed by their number of components (one
            family) or by ``(family, n_components)`` (any families).
        moment_match : bool, default True
            Retry observations with Pareto k > 0.7 by :func:`arviz_stats.loo_moment_match`.

        Returns
        -------
        Comparison

        Raises
        ------
        ValueError
            If ``fits`` is empty, a key is not its fit's, int keys hold several families,
            the data differ, or no fit could be scored. Warnings are as in
            :func:`bayesmix.compare`.
        """
        fits = _checked_fits(fits)
        scored = {key: _score(res, moment_match) for key, res in fits.items()}
        elpd = {key: e for key, (e, _) in scored.items() if e is not None}
        if not elpd:
            first = next(iter(scored.values()))
            raise ValueError(
                f"no fit could be scored ({first[1][0]}); refit with more tuning and draws"
            )
        pool = [key for key in elpd if _eligible(fits[key])] or list(elpd)
        reference = max(pool, key=lambda key: elpd[key].elpd)
        # ArviZ keys models by name: give each fit its position in the table
        names = {key: f"fit{i}" for i, key in enumerate(fits)}
        diffs = az_compare({names[q]: elpd[q] for q in elpd}, reference=names[reference],
                           round_to="none")  # fmt: skip
        weights = az_compare({names[q]: elpd[q] for q in pool}, round_to="none")["weight"]
        nan, rows = float("nan"), []
        for key, res in fits.items():
            e, notes = scored[key]
            rows.append(
                {
                    "elpd_loo": nan if e is None else e.elpd,
                    "se": nan if e is None else e.se,
                    "elpd_diff": diffs["elpd_diff"].get(names[key], nan),
                    "dse": diffs["dse"].get(names[key], nan),
                    "p_loo": nan if e is None else e.p,
                    "n_parameters": n_parameters(res),
                    "weight": weights.get(names[key], nan),
                    "n_high_pareto_k": _n_high(e),
                    "converged": res.converged,
                    "eligible": _eligible(res),
                    "draws": int(res.idata["posterior"].sizes["draw"]),
                    "extended": EXTENSION_ATTR in res.idata.attrs,
                    "problems": _problems(key, res, _n_high(e), notes),
                }
            )
        if all(isinstance(key, int) for key in fits):
            index = pd.Index(list(fits), name="n_components")
        else:
            keys = cast(list[tuple[str, int]], list(fits))
            index = pd.MultiIndex.from_tuples(keys, names=["family", "n_components"])
        table = pd.DataFrame(rows, index=index)
        table["n_high_pareto_k"] = table["n_high_pareto_k"].astype("Int64")
        best_key = _select(table)
        if not table.loc[best_key, "eligible"]:
            warnings.warn(
                f"no fit converged ({_candidates(fits)}); the selected {_label(best_key)} "
                "was chosen among unconverged fits and is unreliable: refit with more "
                "tuning and draws (e.g. tune=2000, draws=2000) or fewer components",
                ConvergenceWarning,
                skip_file_prefixes=_SKIP,
            )
        return cls(table, best_key, MappingProxyType(fits), MappingProxyType(elpd))

    def plot(self, ax: Axes | None = None) -> Axes:
        """Plot ELPD (PSIS-LOO) ± se per K and family, with the selected fit marked.

        Converged fits are filled markers with solid error bars, unconverged ones open
        markers with dashed bars (red when one family is compared, the family's colour
        otherwise); a dotted vertical line marks the selected K. Families sit side by
        side at each K.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw into; a new figure is made if omitted.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        families = self.families
        for i, family in enumerate(families):
            rows = self._rows_of(family)
            shift = 0.12 * (i - (len(families) - 1) / 2)
            for ok in (True, False):
                part = rows[rows["converged"] == ok]
                if not len(part):
                    continue
                colour = f"C{i}" if ok or len(families) > 1 else "C3"
                label = ("" if len(families) == 1 else f"{family}, ") + (
                    "converged" if ok else "NOT converged"
                )
                bars = ax.errorbar(
                    part.index + shift, part["elpd_loo"], yerr=part["se"],
                    fmt="o" if ok else "s", color=colour, mfc=colour if ok else "white",
                    capsize=3, label=label,
                )  # fmt: skip
                bars[2][0].set_linestyle("-" if ok else "--")
        best = "" if len(families) == 1 else f"{self.best_family} "
        ax.axvline(self.best_k, color="k", ls=":", label=f"selected {best}K={self.best_k}")
        ax.set_xticks(sorted({res.n_components for res in self.fits.values()}))
        ax.set_xlabel("number of components K")
        ax.set_ylabel("ELPD (PSIS-LOO) ± se")
        ax.legend()
        return ax

    def _rows_of(self, family: str) -> pd.DataFrame:
        """Return the table's rows of one family, indexed by K."""
        if isinstance(self.table.index, pd.MultiIndex):
            return cast(pd.DataFrame, self.table.xs(family, level="family"))
        return self.table

    def __repr__(self) -> str:
        converged = bool(self.table.loc[self.best_key, "converged"])
        eligible = bool(self.table.loc[self.best_key, "eligible"])
        families = self.families
        if len(families) == 1:
            what, chosen = "", f"K={self.best_k}, the smallest K"
        else:
            what = f" across {', '.join(families)}"
            chosen = f"{self.best_family} K={self.best_k}, the simplest fit"
        ks = sorted({res.n_components for res in self.fits.values()})
        if converged:
            verdict = "converged fit>"
        elif eligible:
            verdict = "fit, short of ESS only after extension (flagged)>"
        else:
            verdict = "fit (UNRELIABLE: no fit converged)>"
        head = (
            f"<Comparison of K in {ks}{what} by PSIS-LOO: selected {chosen} within one "
            f"dse of the best {verdict}"
        )
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            return head + "\n" + self.table.to_string(float_format=lambda v: f"{v:.4g}")


def _candidates(fits: Mapping[Any, MixtureResult]) -> str:
    keys = list(fits)
    if all(isinstance(key, int) for key in keys):
        return f"K in {keys}"
    return "fits " + ", ".join(_label(key) for key in keys)
