"""Convergence checks on a fitted mixture, as data and as warnings with remedies.

r_hat and ESS are ArviZ's (computed batched by :mod:`bayesmix.diagnostics.mcmcstats`), the
rank uniformity test arviz_stats' (:mod:`bayesmix.diagnostics.ranks`); this module
decides what counts as a failure for a mixture and says what to do about it. Besides each
parameter it checks quantities that do not depend on component labels (the sorted
weights, the predictive density at data quantiles, the log posterior density per draw),
and whether chains settled in different modes (the usual failure of mixtures, which
ordered means can hide).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesmix.diagnostics.chains import chain_groups, component_issues, stray_chains
from bayesmix.diagnostics.mcmcstats import convergence, tail_prob
from bayesmix.diagnostics.ranks import RANK_ALPHA, p_text, panel_alpha, rank_p_values
from bayesmix.families import Family, get_family
from bayesmix.posterior.density import Draws, pointwise_log_lik
from bayesmix.posterior.modes import MODES_ATTR

__all__ = [
    "ESS_MIN",
    "EXTENSION_ATTR",
    "ComponentWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "diagnose",
    "warn_if_not_converged",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: r_hat above this fails (Vehtari et al. 2021 recommend 1.01).
R_HAT_MAX = 1.01
#: Bulk or tail ESS below this fails (Vehtari et al. 2021: 100 per chain for 4 chains).
ESS_MIN = 400
#: Tree attribute where a fit records its extension to the ESS target (JSON; written by
#: :mod:`bayesmix.sampling.extend`, read here to name the remedy still open).
EXTENSION_ATTR = "bayesmix_extension"
#: Other modes may hold at most this share of the posterior mass before the fit, which
#: samples one mode, is reported as not describing the posterior.
MINOR_MASS_MAX = 0.05
#: Data quantiles where the predictive density is checked (a label-invariant quantity).
GRID_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


class ConvergenceWarning(UserWarning):
    """The sampler did not converge: the posterior summaries may be wrong."""


class ComponentWarning(UserWarning):
    """A component is empty or has collapsed onto a few points: K is likely too large."""


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of one fit.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per checked quantity with ``r_hat``, ``ess_bulk``, ``ess_tail``,
        ``rank_p`` (the multi-chain rank uniformity test of the parameters, see
        :mod:`bayesmix.diagnostics.ranks`), ``label_invariant`` and ``passed``: each
        ``weights[k]``, ``mu[k]``, ``sigma[k]``,
        and the label-invariant ``weights_sorted[j]`` (weights in decreasing order),
        ``density(qNN)`` (predictive density at the data's NN% quantile) and
        ``log_posterior`` (the sampler's log density; ``log_lik``, the total
        log-likelihood, for a tree without sample stats).
    divergences : int
        Number of divergent transitions after tuning.
    n_samples : int
        Number of post-tuning draws over all chains.
    stray_chains : tuple of int
        Chains outside the largest group of chains that agree (their means of every
        checked quantity within ``MODE_GAP_SD`` within-chain sds of each other): those
        in a different mode. Every chain when the chains split into equal groups.
    problems : tuple of str
        One message per failed convergence check, each with a remedy.
    component_issues : tuple of str
        One message per empty or collapsed component, each with a remedy.
    effective_components : float
        Posterior mean of ``1 / sum_k w_k^2``: K for equal weights, near 1 when one
        component dominates.
    failed : tuple of str
        The kinds of check that failed, in the order of ``problems``: among
        ``"stray_chains"``, ``"r_hat"``, ``"rank"``, ``"ess"``, ``"divergences"`` and
        ``"modes"`` (exploration found other modes holding more than
        ``MINOR_MASS_MAX`` of the mass).
    """

    table: pd.DataFrame
    divergences: int
    n_samples: int
    stray_chains: tuple[int, ...]
    problems: tuple[str, ...]
    component_issues: tuple[str, ...] = ()
    effective_components: float = float("nan")
    failed: tuple[str, ...] = ()

    @property
    def converged(self) -> bool:
        """True when every check passed."""
        return not self.problems

    @property
    def only_ess_short(self) -> bool:
        """True when the ESS check is the only one that failed: more draws would fix it.

        The chains agree (r_hat, ranks, no stray chain) and the sampler saw the whole
        posterior (no divergence); they are only too short for reliable intervals.
        """
        return self.failed == ("ess",)

    @property
    def min_ess(self) -> float:
        """The smallest bulk or tail ESS over every checked quantity."""
        values = np.fmin(
            self.table["ess_bulk"].to_numpy(float), self.table["ess_tail"].to_numpy(float)
        )
        return float(np.nanmin(values)) if np.isfinite(values).any() else float("nan")

    def __repr__(self) -> str:
        verdict = "all checks passed" if self.converged else f"{len(self.problems)} problem(s)"
        lines = [
            f"Diagnostics: {verdict}; {self.divergences} divergences; effective number of "
            f"components {self.effective_components:.2f}"
        ]
        lines += [f"  - {p}" for p in self.problems + self.component_issues]
        lines.append(self.table.to_string(float_format=lambda v: f"{v:.3f}"))
        return "\n".join(lines)


def _quantities(
    idata: xr.DataTree, draws: dict[str, np.ndarray], y: np.ndarray, family: Family
) -> tuple[list[str], np.ndarray, list[str]]:
    """Every checked scalar per draw: names, values (quantity, chain, draw), label-free names.

    Besides each parameter, the label-invariant quantities: the weights sorted in
    decreasing order, the predictive density at five data quantiles, and the sampler's
    log posterior density per draw (or, for a tree without sample stats, the total
    log-likelihood). They mean the same whatever the components' order, so a posterior
    with several modes shows up in them even when the ordered means look fine.
    """
    chains, n_draws, n_comp = draws["weights"].shape
    components = np.asarray(idata["posterior"]["component"])
    names: list[str] = []
    rows: list[np.ndarray] = []
    for name in (["weights"] if n_comp > 1 else []) + list(family.names):
        names += [f"{name}[{k}]" for k in components]
        rows += [draws[name][..., j] for j in range(n_comp)]
    invariant = []
    if n_comp > 1:
        ranked = -np.sort(-draws["weights"], axis=-1)
        invariant += [f"weights_sorted[{j}]" for j in range(n_comp)]
        rows += list(np.moveaxis(ranked, -1, 0))
    grid = np.quantile(y, GRID_QUANTILES)
    flat = {v: draws[v].reshape(-1, n_comp) for v in family.names}
    flat_draws = Draws(family, draws["weights"].reshape(-1, n_comp), flat)
    dens = np.exp(pointwise_log_lik(grid, flat_draws)).reshape(chains, n_draws, grid.size)
    invariant += [f"density(q{round(100 * q)})" for q in GRID_QUANTILES]
    rows += list(np.moveaxis(dens, -1, 0))
    stats: Any = idata["sample_stats"] if "sample_stats" in idata.children else {}
    stat = next((v for v in ("logp", "lp") if v in stats), None)
    if stat is not None:
        # the sampler's log posterior density per draw: label-invariant, and free
        invariant.append("log_posterior")
        rows.append(np.asarray(stats[stat].transpose("chain", "draw").values))
    elif "log_likelihood" in idata.children and "y" in idata["log_likelihood"]:
        log_lik = idata["log_likelihood"]["y"]
        obs_dims = [d for d in log_lik.dims if d not in ("chain", "draw")]
        invariant.append("log_lik")
        # skipna=False: xarray's default NaN-skipping sum is ~30x slower (a masked copy)
        total = log_lik.sum(dim=obs_dims, skipna=False).transpose("chain", "draw")
        rows.append(np.asarray(total.values))
    values = np.stack(rows).astype(np.float64, copy=False)
    return names + invariant, values, invariant


def _table(names: list[str], values: np.ndarray, invariant: list[str]) -> pd.DataFrame:
    """r_hat, bulk and tail ESS of every quantity (ArviZ's algorithms, batched); verdicts."""
    r_hat, ess_bulk, ess_tail = convergence(values)
    label_invariant = np.isin(names, invariant)
    # the rank test on the parameters: the panels of the report's rank figure
    rank_p = np.full(len(names), np.nan)
    rank_p[~label_invariant], rank_step = rank_p_values(values[~label_invariant])
    rank_level = panel_alpha(int((~label_invariant).sum()))  # one panel per parameter
    ranks_ok = ~(rank_p < rank_level)  # NaN passes
    table = pd.DataFrame(
        {
            "r_hat": r_hat,
            "ess_bulk": ess_bulk,
            "ess_tail": ess_tail,
            "rank_p": rank_p,
            "label_invariant": label_invariant,
            "passed": (r_hat <= R_HAT_MAX)
            & (ess_bulk >= ESS_MIN)
            & (ess_tail >= ESS_MIN)
            & ranks_ok,
        },
        index=pd.Index(names, name="quantity"),
    )
    table.attrs["tail_prob"] = tail_prob(None)  # ArviZ's rcParams at the time
    table.attrs["rank_step"] = rank_step  # the rank test's draws: every rank_step-th
    table.attrs["rank_level"] = rank_level  # each parameter's level
    return table


def diagnose(idata: xr.DataTree) -> Diagnostics:
    """Check convergence of a fitted mixture's posterior.

    Parameters
    ----------
    idata : xarray.DataTree
        A tree with a ``posterior`` group holding ``weights`` and the parameters of the
        family its ``bayesmix_spec`` attribute names (default normal: ``mu``, ``sigma``), an
        ``observed_data`` group and, optionally, ``sample_stats`` (for divergences) and
        ``log_likelihood``.

    Returns
    -------
    Diagnostics
    """
    post = idata["posterior"]
    family = get_family(json.loads(idata.attrs.get("bayesmix_spec", "{}")).get("family", "normal"))
    draws = {  # each (chain, draw, component), read once for every check below
        v: np.asarray(post[v].transpose("chain", "draw", "component").values)
        for v in ("weights", *family.names)
    }
    y = np.asarray(idata["observed_data"]["y"].values)
    names, values, invariant = _quantities(idata, draws, y, family)
    table = _table(names, values, invariant)
    n_samples = int(post.sizes["chain"] * post.sizes["draw"])
    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        divergences = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
    groups = chain_groups(values) if values.shape[1] > 1 else []
    stray = stray_chains(groups)
    extension = json.loads(idata.attrs.get(EXTENSION_ATTR, "null"))
    failed, problems = _problems(table, divergences, n_samples, stray, extension, groups)
    modes = json.loads(idata.attrs.get(MODES_ATTR, "null"))
    elsewhere = _mass_elsewhere(modes)
    if elsewhere > MINOR_MASS_MAX:
        failed += ("modes",)
        problems += (
            f"explore=True found other modes holding {elsewhere:.0%} of the posterior mass "
            "(res.modes); the fit samples one mode, so its summaries describe only that "
            "one: compare fits with other K or families, or report the modes",
        )
    issues, effective = component_issues(draws, y)
    return Diagnostics(table, divergences, n_samples, stray, problems, issues, effective, failed)


def _mass_elsewhere(modes: dict[str, Any] | None) -> float:
    """Return the posterior mass of the modes the fit does not sample (0 if unexplored)."""
    if not modes:
        return 0.0
    return float(sum(m["mass"] for m in modes["modes"] if not m["sampled_by_fit"]))


def _ess_remedy(extension: dict[str, Any] | None, n_samples: int) -> str:
    """Return the remedy for a short ESS, given the extension that already ran (if any)."""
    if not extension or not extension.get("rounds"):
        return "increase draws (e.g. draws=2000) or chains"
    stopped = extension.get("stopped", "")
    return (
        f"sampling was already extended to {n_samples} draws ({stopped}); raise "
        f"max_draws (e.g. max_draws={2 * n_samples}) or draws, or check the priors: "
        "this posterior mixes slowly"
    )


def _problems(
    table: pd.DataFrame,
    divergences: int,
    n_samples: int,
    stray: tuple[int, ...],
    extension: dict[str, Any] | None = None,
    groups: list[list[int]] | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the kinds of failed check and one message per failure, with its remedy."""
    kinds, out = [], []
    if stray:
        kinds.append("stray_chains")
        groups = groups or [list(stray)]
        if len(groups) > 1 and len(groups[0]) == len(groups[1]):
            parts = [str(g) for g in groups]
            where = (
                f"the chains split into groups {', '.join(parts[:-1])} and {parts[-1]} that "
                "settled in different modes, none of them a majority"
            )
        else:
            where = f"chain(s) {list(stray)} settled in a different mode from the others"
        out.append(
            f"{where} (their "
            "component means disagree); the posterior is multimodal or the model has too "
            "many components: compare fits with fewer components, or rerun with more "
            "tuning (e.g. tune=2000) and keep the result only if all chains agree"
        )
    names = np.asarray(table.index, dtype=object)
    r_hat = table["r_hat"].to_numpy(dtype=float)
    bad_r = r_hat > R_HAT_MAX  # NaN (too few draws) is not a failure here
    if bad_r.any():
        worst = int(np.argmax(np.where(bad_r, r_hat, -np.inf)))
        kinds.append("r_hat")
        out.append(
            f"r_hat > {R_HAT_MAX} for {list(names[bad_r])} (worst: {names[worst]} = "
            f"{r_hat[worst]:.3f}): chains disagree; run longer (e.g. "
            "tune=2000, draws=2000) and check for multimodality"
        )
    rank_p = table["rank_p"].to_numpy(dtype=float)
    level = table.attrs["rank_level"]
    bad_rank = rank_p < level
    if bad_rank.any():
        worst = int(np.nanargmin(rank_p))
        kinds.append("rank")
        out.append(
            f"the chains' rank distributions differ for {list(names[bad_rank])} (worst: "
            f"{names[worst]}, {p_text(rank_p[worst])} < {level:.2g}, the rank test at "
            f"{RANK_ALPHA} over all parameters): the chains have not mixed; run longer "
            "(e.g. tune=2000, draws=2000) and look at the rank plots"
        )
    ess_min = np.fmin(table["ess_bulk"].to_numpy(float), table["ess_tail"].to_numpy(float))
    bad_e = ess_min < ESS_MIN
    if bad_e.any():
        worst = int(np.argmin(np.where(bad_e, ess_min, np.inf)))
        kinds.append("ess")
        out.append(
            f"effective sample size < {ESS_MIN} for {list(names[bad_e])} (worst: "
            f"{names[worst]} = {ess_min[worst]:.0f}): too few independent draws for reliable "
            f"intervals; {_ess_remedy(extension, n_samples)}"
        )
    if divergences:
        kinds.append("divergences")
        out.append(
            f"{divergences} divergent transition(s) in {n_samples} draws: the sampler "
            "missed part of the posterior; raise target_accept (e.g. target_accept=0.99), "
            "and if they persist a component is collapsing onto few points: use fewer "
            "components or a stronger prior on sigma"
        )
    return tuple(kinds), tuple(out)


def warn_if_not_converged(diagnostics: Diagnostics, stacklevel: int = 3) -> None:
    """Warn once per failed check and once per empty or collapsed component.

    Failed convergence checks raise :class:`ConvergenceWarning`; empty or collapsed
    components raise :class:`ComponentWarning`.
    """
    # the first frame outside bayesmix: the user's call, however deep inside it we are
    skip = (_PACKAGE_DIR,)
    for problem in diagnostics.problems:
        warnings.warn(problem, ConvergenceWarning, stacklevel=stacklevel, skip_file_prefixes=skip)
    for issue in diagnostics.component_issues:
        warnings.warn(issue, ComponentWarning, stacklevel=stacklevel, skip_file_prefixes=skip)
