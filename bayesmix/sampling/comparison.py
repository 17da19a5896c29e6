"""How many components? Fit each K, score it by PSIS-LOO, and select one by a stated rule.

Each fit is scored by ArviZ's PSIS-LOO on its pointwise log-likelihood (labels summed
out). Observations with Pareto k > 0.7 are retried by ArviZ's moment matching on the PyMC
model; what stays high is counted and warned about. Fits that did not converge are
flagged and never selected.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats import compare as az_compare
from arviz_stats import loo, loo_moment_match

from bayesmix.data.validate import as_observations, check_n_components
from bayesmix.diagnostics.checks import ComponentWarning, ConvergenceWarning
from bayesmix.model.build import build_model
from bayesmix.posterior.blockloo import block_loo
from bayesmix.posterior.loglik import log_likelihood_dataset
from bayesmix.result import MixtureResult
from bayesmix.sampling.nuts import LOG_LIK_MAX_VALUES
from bayesmix.sampling.run import fit_components
from bayesmix.sampling.settings import SamplingError

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData
    from matplotlib.axes import Axes

__all__ = ["AUTO_COMPONENTS", "Comparison", "LOOWarning", "compare"]

#: Candidate numbers of components for ``compare`` and ``fit(y, n_components="auto")``.
AUTO_COMPONENTS = range(1, 7)
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
#: Fit warnings gathered into one per K and kind (see ``_problems``).
_GATHERED = (ConvergenceWarning, ComponentWarning)


class LOOWarning(UserWarning):
    """PSIS-LOO of a fit is unreliable (Pareto k > 0.7) or could not be computed."""


def _check_ks(n_components: Iterable[Any], n_obs: int) -> list[int]:
    if isinstance(n_components, str) or not isinstance(n_components, Iterable):
        raise TypeError(
            f"n_components={n_components!r} must be a sequence of integers, e.g. range(1, 7)"
        )
    ks = [check_n_components(k, n_obs) for k in n_components]
    if not ks:
        raise ValueError("n_components is empty; pass the candidates, e.g. range(1, 7)")
    if len(set(ks)) != len(ks):
        raise ValueError(f"n_components={ks} holds duplicates; list each K once")
    return sorted(ks)


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


def _problems(k: int, result: MixtureResult, n_high: int | None, notes: list[str]) -> str:
    """Return the table's note on one fit, warning once per kind of problem."""
    diag = result.diagnostics
    kinds = (
        (diag.problems, ConvergenceWarning, "did not converge, so it is never selected"),
        (diag.component_issues, ComponentWarning, "has empty or collapsed components"),
    )
    for found, category, what in kinds:
        if found:
            notes = [*notes, f"{category.__name__}: {len(found)} (see .fits[{k}].diagnostics)"]
            message = f"K={k}: the fit {what}: " + " | ".join(found)
            warnings.warn(message, category, skip_file_prefixes=_SKIP)
    if n_high is None:
        warnings.warn(f"K={k}: {notes[0]}", LOOWarning, skip_file_prefixes=_SKIP)
    elif n_high:
        notes = [*notes, f"{n_high} obs. with Pareto k > {K_HIGH}"]
        warnings.warn(
            f"K={k}: {n_high} observation(s) have Pareto k > {K_HIGH} after moment matching "
            "(if it ran), so its PSIS-LOO estimate may be biased, usually optimistically; "
            "check it by exact k-fold cross-validation (arviz_stats.loo_kfold with a wrapper "
            "that refits bayesmix.fit on each fold)",
            LOOWarning,
            skip_file_prefixes=_SKIP,
        )
    return "; ".join(notes)


def _select(table: pd.DataFrame) -> int:
    """Smallest eligible K with ``elpd_diff >= -dse`` (the rule in ``compare``)."""
    scored = table[table["elpd_diff"].notna()]
    pool = scored[scored["converged"]] if scored["converged"].any() else scored
    return int(pool.index[pool["elpd_diff"] >= -pool["dse"]].min())


@dataclass(frozen=True, repr=False)
class Comparison:
    """Fits for several numbers of components, scored by PSIS-LOO, with one selected.

    Made by :func:`compare` (which fits each K) or :meth:`from_fits` (existing fits).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per K (the index): ``elpd_loo`` and its ``se``; ``elpd_diff`` from the
        best converged fit and its standard error ``dse``; ``p_loo``; ``weight``
        (stacking weight among the converged fits, NaN for the others);
        ``n_high_pareto_k`` (observations with Pareto k > 0.7 after moment matching);
        ``converged``; ``problems`` (notes, "" if none). A fit PSIS-LOO could not score
        has NaN numbers.
    best_k : int
        The selected number of components (see :func:`compare` for the rule).
    fits : mapping of int to MixtureResult
        Every fit, by K.
    elpd : mapping of int to arviz_stats.ELPDData
        ArviZ's LOO result of each scored fit, with pointwise values and Pareto k.
    """

    table: pd.DataFrame
    best_k: int
    fits: Mapping[int, MixtureResult]
    elpd: Mapping[int, ELPDData]

    @property
    def best(self) -> MixtureResult:
        """The fit with the selected number of components."""
        return self.fits[self.best_k]

    @classmethod
    def from_fits(
        cls, fits: Mapping[int, MixtureResult], *, moment_match: bool = True
    ) -> Comparison:
        """Score existing fits of the same data by PSIS-LOO and select one K.

        Parameters
        ----------
        fits : mapping of int to MixtureResult
            Fits of the same observations, keyed by their number of components.
        moment_match : bool, default True
            Retry observations with Pareto k > 0.7 by :func:`arviz_stats.loo_moment_match`.

        Returns
        -------
        Comparison

        Raises
        ------
        ValueError
            If ``fits`` is empty, a key is not its fit's K, the data differ, or no fit
            could be scored. Warnings are as in :func:`compare`.
        """
        if not fits:
            raise ValueError("fits is empty; pass {n_components: MixtureResult, ...}")
        fits = dict(sorted(fits.items()))
        first = next(iter(fits.values()))
        for k, res in fits.items():
            if k != res.n_components:
                raise ValueError(f"fits[{k}] has {res.n_components} components, not {k}")
            if not np.array_equal(res.data, first.data):
                raise ValueError(f"fits[{k}] was fitted to different data; compare one data set")
        scored = {k: _score(res, moment_match) for k, res in fits.items()}
        elpd = {k: e for k, (e, _) in scored.items() if e is not None}
        if not elpd:
            raise ValueError(
                f"no fit could be scored ({scored[k][1][0]}); refit with more tuning and draws"
            )
        pool = [k for k in elpd if fits[k].converged] or list(elpd)
        reference = max(pool, key=lambda k: elpd[k].elpd)
        diffs = az_compare(elpd, reference=reference, round_to="none")
        weights = az_compare({k: elpd[k] for k in pool}, round_to="none")["weight"]
        nan, rows = float("nan"), {}
        for k, res in fits.items():
            e, notes = scored[k]
            rows[k] = {
                "elpd_loo": nan if e is None else e.elpd,
                "se": nan if e is None else e.se,
                "elpd_diff": diffs["elpd_diff"].get(k, nan),
                "dse": diffs["dse"].get(k, nan),
                "p_loo": nan if e is None else e.p,
                "weight": weights.get(k, nan),
                "n_high_pareto_k": _n_high(e),
                "converged": res.converged,
                "problems": _problems(k, res, _n_high(e), notes),
            }
        table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("n_components")
        table["n_high_pareto_k"] = table["n_high_pareto_k"].astype("Int64")
        best_k = _select(table)
        if not table.loc[best_k, "converged"]:
            warnings.warn(
                f"no fit converged (K in {list(fits)}); best_k={best_k} was chosen among "
                "unconverged fits and is unreliable: refit with more tuning and draws (e.g. "
                "tune=2000, draws=2000) or fewer components",
                ConvergenceWarning,
                skip_file_prefixes=_SKIP,
            )
        return cls(table, best_k, MappingProxyType(fits), MappingProxyType(elpd))

    def plot(self, ax: Axes | None = None) -> Axes:
        """Plot ELPD (PSIS-LOO) ± se per K, with the selected K marked.

        Converged fits are filled circles with solid error bars, unconverged ones open
        red squares with dashed bars; a dotted vertical line marks the selected K.

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
        t = self.table
        for ok, colour, label in ((True, "C0", "converged"), (False, "C3", "NOT converged")):
            rows = t[t["converged"] == ok]
            if len(rows):
                bars = ax.errorbar(
                    rows.index, rows["elpd_loo"], yerr=rows["se"], fmt="o" if ok else "s",
                    color=colour, mfc=colour if ok else "white", capsize=3, label=label,
                )  # fmt: skip
                bars[2][0].set_linestyle("-" if ok else "--")
        ax.axvline(self.best_k, color="k", ls=":", label=f"selected K={self.best_k}")
        ax.set_xticks(list(t.index))
        ax.set_xlabel("number of components K")
        ax.set_ylabel("ELPD (PSIS-LOO) ± se")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        ok = self.table.loc[self.best_k, "converged"]
        head = (
            f"<Comparison of K in {list(self.table.index)} by PSIS-LOO: selected K="
            f"{self.best_k}, the smallest K within one dse of the best "
            + ("converged fit>" if ok else "fit (UNRELIABLE: no fit converged)>")
        )
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            return head + "\n" + self.table.to_string(float_format=lambda v: f"{v:.4g}")


def compare(
    data: Any,
    n_components: Iterable[int] = AUTO_COMPONENTS,
    *,
    moment_match: bool = True,
    progressbar: bool = True,
    **fit_options: Any,
) -> Comparison:
    """Fit a mixture for each number of components and choose one by PSIS-LOO.

    Each K is fitted by :func:`bayesmix.fit` with the same options (the same
    ``random_seed`` too, if given) and scored by :func:`arviz_stats.loo` on its pointwise
    log-likelihood. Observations with Pareto k > 0.7 are retried by moment matching
    (:func:`arviz_stats.loo_moment_match` on the fit's PyMC model).

    **Selection rule.** The reference is the converged fit with the highest ELPD. The
    selected K is the smallest converged K whose ELPD is within one standard error of the
    difference of the reference's: ``elpd_diff >= -dse``. A component is only added if it
    clearly improves predictions. Unconverged fits are flagged in the table and never
    selected; if no fit converged, the rule is applied to all fits and the choice is
    flagged as unreliable (a warning and the repr say so).

    Parameters
    ----------
    data : array_like
        The observations, as for :func:`bayesmix.fit` (validated once).
    n_components : iterable of int, default range(1, 7)
        The candidate numbers of components.
    moment_match : bool, default True
        Retry observations with Pareto k > 0.7 by moment matching.
    progressbar : bool, default True
        Print one line per K to stderr when it is fitted (samplers' own bars are off).
    **fit_options
        Passed to :func:`bayesmix.fit` for every K: ``draws``, ``tune``, ``chains``,
        ``random_seed``, ``priors``, ``sampler``, ...

    Returns
    -------
    Comparison
        ``table``, ``best_k``, ``best``, ``fits``, ``elpd`` and ``plot()``.

    Raises
    ------
    TypeError, ValueError
        For invalid data, candidates or options, or if no fit could be scored.
    SamplingError
        If the sampler failed for every K (a K where it fails is left out, with a warning).

    Warns
    -----
    ConvergenceWarning
        One per unconverged fit (its failed checks, gathered), one more if none converged,
        and one per K where the sampler failed.
    ComponentWarning
        One per fit with empty or collapsed components (common when K is too large).
    LOOWarning
        One per fit with Pareto k > 0.7 after moment matching, or that PSIS-LOO failed.

    See Also
    --------
    Comparison.from_fits : the same for fits you already have.
    arviz_stats.loo_kfold : exact k-fold cross-validation, when Pareto k stays high.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(500, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=0)
    >>> cmp = bm.compare(y, [1, 2, 3], random_seed=1)  # doctest: +SKIP
    >>> cmp.best_k, cmp.table  # doctest: +SKIP
    >>> cmp.plot()  # doctest: +SKIP
    """
    y = as_observations(data)
    ks = _check_ks(n_components, y.size)
    fitted = {
        k: _fit_one(y, k, f"{i}/{len(ks)}", progressbar, fit_options) for i, k in enumerate(ks, 1)
    }
    fits = {k: res for k, res in fitted.items() if res is not None}
    if not fits:
        raise SamplingError(f"sampling failed for every K in {ks}; see the warnings")
    return Comparison.from_fits(fits, moment_match=moment_match)


def _fit_one(
    y: np.ndarray, k: int, step: str, progressbar: bool, fit_options: dict[str, Any]
) -> MixtureResult | None:
    """Fit one K; None (with a warning) if the sampler fails, so the other K still run."""
    start, failure = time.perf_counter(), ""
    with warnings.catch_warnings(record=True) as caught:
        for category in _GATHERED:  # re-issued once per K and kind by from_fits
            warnings.simplefilter("always", category)
        try:
            result: MixtureResult | None = fit_components(y, k, progressbar=False, **fit_options)
        except SamplingError as err:
            result, failure = None, f"K={k}: {err}; this K is left out of the comparison"
    for w in caught:  # any other warning passes on unchanged
        if not issubclass(w.category, _GATHERED):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failure:
        warnings.warn(failure, ConvergenceWarning, skip_file_prefixes=_SKIP)
    if progressbar:
        state = None if result is None else result.converged
        verdict = {None: "sampling FAILED", True: "converged", False: "NOT converged"}[state]
        took = time.perf_counter() - start
        print(f"bayesmix.compare: K={k} ({step}) {verdict}, {took:.1f} s", file=sys.stderr)
    return result
