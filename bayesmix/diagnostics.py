"""Convergence checks on a fitted mixture, as data and as warnings with remedies.

ArviZ computes r_hat and ESS; this module decides what counts as a failure for a mixture
and says what to do about it. Besides each parameter it checks the total log-likelihood
per draw, which does not depend on component labels, and whether chains settled in
different modes (the usual failure of mixtures, which ordered means can hide).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats import ess, rhat

__all__ = ["ConvergenceWarning", "Diagnostics", "diagnose", "warn_if_not_converged"]

#: r_hat above this fails (Vehtari et al. 2021 recommend 1.01).
R_HAT_MAX = 1.01
#: Bulk or tail ESS below this fails (Vehtari et al. 2021: 100 per chain for 4 chains).
ESS_MIN = 400
#: A chain whose mean of some mu_k sits more than this many pooled within-chain standard
#: deviations from the median chain is "in a different mode". Within one mode, chain means
#: differ by Monte Carlo error, a small fraction of a standard deviation.
MODE_GAP_SD = 3.0


class ConvergenceWarning(UserWarning):
    """The sampler did not converge: the posterior summaries may be wrong."""


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of one fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per checked quantity (``weights[k]``, ``mu[k]``, ``sigma[k]`` and the
        label-invariant ``log_lik``) with ``r_hat``, ``ess_bulk``, ``ess_tail`` and
        ``passed``.
    divergences : int
        Number of divergent transitions after tuning.
    n_samples : int
        Number of post-tuning draws over all chains.
    stray_chains : tuple of int
        Chains whose component means sit in a different mode from the others.
    problems : tuple of str
        One message per failed check, each with a remedy; empty if all passed.
    """

    table: pd.DataFrame
    divergences: int
    n_samples: int
    stray_chains: tuple[int, ...]
    problems: tuple[str, ...]

    @property
    def converged(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def __repr__(self) -> str:
        verdict = "all checks passed" if self.converged else f"{len(self.problems)} problem(s)"
        lines = [f"Diagnostics: {verdict}; {self.divergences} divergences"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append(self.table.to_string(float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)


def _per_parameter(posterior: xr.Dataset, names: list[str]) -> pd.DataFrame:
    ds = posterior[names]
    r = rhat(ds)
    eb = ess(ds, method="bulk")
    et = ess(ds, method="tail")
    rows = []
    for name in names:
        for k in posterior[name].coords["component"].values:
            rows.append(
                {
                    "parameter": f"{name}[{k}]",
                    "r_hat": float(r[name].sel(component=k)),
                    "ess_bulk": float(eb[name].sel(component=k)),
                    "ess_tail": float(et[name].sel(component=k)),
                }
            )
    return pd.DataFrame(rows)


def _log_lik_row(log_lik: xr.DataArray) -> dict[str, float | str]:
    total = log_lik.sum(dim=[d for d in log_lik.dims if d not in ("chain", "draw")])
    return {
        "parameter": "log_lik",
        "r_hat": float(rhat(total)),
        "ess_bulk": float(ess(total, method="bulk")),
        "ess_tail": float(ess(total, method="tail")),
    }


def _stray_chains(mu: xr.DataArray) -> tuple[int, ...]:
    if mu.sizes["chain"] < 2:
        return ()
    chain_mean = np.asarray(mu.mean("draw").transpose("chain", "component"))
    within_sd = np.sqrt(np.asarray(mu.var("draw").mean("chain")))
    within_sd = np.where(within_sd > 0, within_sd, np.inf)
    gap = np.abs(chain_mean - np.median(chain_mean, axis=0)) / within_sd
    return tuple(int(c) for c in np.flatnonzero((gap > MODE_GAP_SD).any(axis=1)))


def diagnose(idata: xr.DataTree) -> Diagnostics:
    """Check convergence of a fitted mixture's posterior.

    Parameters
    ----------
    idata : xarray.DataTree
        A tree with a ``posterior`` group holding ``weights``, ``mu`` and ``sigma`` and,
        optionally, ``sample_stats`` (for divergences) and ``log_likelihood``.

    Returns
    -------
    Diagnostics
    """
    post = idata["posterior"].to_dataset()
    n_comp = post.sizes["component"]
    names = (["weights"] if n_comp > 1 else []) + ["mu", "sigma"]
    table = _per_parameter(post, names)
    if "log_likelihood" in idata.children and "y" in idata["log_likelihood"]:
        log_lik = idata["log_likelihood"].to_dataset()["y"]
        table = pd.concat([table, pd.DataFrame([_log_lik_row(log_lik)])], ignore_index=True)
    table["passed"] = (
        (table["r_hat"] <= R_HAT_MAX)
        & (table["ess_bulk"] >= ESS_MIN)
        & (table["ess_tail"] >= ESS_MIN)
    )
    table = table.set_index("parameter")
    n_samples = int(post.sizes["chain"] * post.sizes["draw"])
    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        divergences = int(np.asarray(idata["sample_stats"].to_dataset()["diverging"]).sum())
    stray = _stray_chains(post["mu"])
    problems = _problems(table, divergences, n_samples, stray)
    return Diagnostics(table, divergences, n_samples, stray, problems)


def _problems(
    table: pd.DataFrame, divergences: int, n_samples: int, stray: tuple[int, ...]
) -> tuple[str, ...]:
    out = []
    if stray:
        out.append(
            f"chain(s) {list(stray)} settled in a different mode from the others (their "
            "component means disagree); the posterior is multimodal or the model has too "
            "many components: compare fits with fewer components, or rerun with more "
            "tuning (e.g. tune=2000) and keep the result only if all chains agree"
        )
    r_hat = table["r_hat"]
    bad_r = r_hat[r_hat > R_HAT_MAX]
    if len(bad_r):
        worst = str(bad_r.idxmax())
        out.append(
            f"r_hat > {R_HAT_MAX} for {list(bad_r.index)} (worst: {worst} = "
            f"{bad_r.max():.3f}): chains disagree; run longer (e.g. "
            "tune=2000, draws=2000) and check for multimodality"
        )
    ess_min = table[["ess_bulk", "ess_tail"]].min(axis=1)
    bad_e = ess_min[ess_min < ESS_MIN]
    if len(bad_e):
        worst = str(bad_e.idxmin())
        out.append(
            f"effective sample size < {ESS_MIN} for {list(bad_e.index)} (worst: {worst} = "
            f"{bad_e.min():.0f}): too few independent draws for reliable intervals; "
            "increase draws (e.g. draws=2000) or chains"
        )
    if divergences:
        out.append(
            f"{divergences} divergent transition(s) in {n_samples} draws: the sampler "
            "missed part of the posterior; raise target_accept (e.g. target_accept=0.99), "
            "and if they persist a component is collapsing onto few points: use fewer "
            "components or a stronger prior on sigma"
        )
    return tuple(out)


def warn_if_not_converged(diagnostics: Diagnostics, stacklevel: int = 3) -> None:
    """Issue one :class:`ConvergenceWarning` per failed check."""
    for problem in diagnostics.problems:
        warnings.warn(problem, ConvergenceWarning, stacklevel=stacklevel)
