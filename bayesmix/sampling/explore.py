"""``fit(..., explore=True)``: look for the posterior's other modes and weigh them.

NUTS started at the k-means solution samples the main mode well and never leaves it,
so a mode no chain entered is invisible to every diagnostic. Exploration:

1. finds the distinct local optima of EM from random starts
   (:func:`bayesmix.model.starts.em_starts`, at most ``MAX_MODES`` of them);
2. runs ``EXPLORE_CHAINS`` NUTS chains from each (same tuning and draws as the fit,
   seeds derived from its seed), which settle in the modes near those optima;
3. groups the fit's chains and these by the mode they settled in (the stray-chain
   rule, :func:`bayesmix.diagnostics.chains.chain_groups`);
4. weighs the modes by importance sampling (:func:`bayesmix.posterior.modes.mode_masses`).

The fit keeps its own chains; if a mode with more mass than the fit's exists, the fit is
sampled again from there. The modes found (mass with its standard error, the chains
that found each, their posterior means) are recorded in the tree's attrs
(``bayesmix_modes``), read by ``res.modes``, the diagnostics and the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from bayesmix.diagnostics.chains import chain_groups
from bayesmix.model import MixtureSpec
from bayesmix.model.starts import em_starts
from bayesmix.posterior.modes import MODES_ATTR, mode_masses, unconstrained
from bayesmix.result import MixtureResult
from bayesmix.sampling.nuts import sample
from bayesmix.sampling.settings import SamplerSettings
from bayesmix.sampling.stray import consensus_start

__all__ = ["EM_STARTS", "EXPLORE_CHAINS", "MAX_MODES", "explore"]

#: Random EM starts, distinct optima kept (likeliest first), chains run from each.
EM_STARTS = 20
MAX_MODES = 6
EXPLORE_CHAINS = 2
#: Draws per chain for its proposal, and proposal draws per chain.
_FIT_DRAWS = 1000
_IS_DRAWS = 2000


def explore(
    result: MixtureResult,
    y: np.ndarray,
    spec: MixtureSpec,
    settings: SamplerSettings,
    refit: Callable[[dict[str, np.ndarray]], MixtureResult],
    progressbar: bool,
    sample_kwargs: dict[str, Any],
) -> MixtureResult:
    """Run the exploration (see the module docstring); return the fit with its modes.

    ``refit(start)`` samples the fit again from ``start``: used when a heavier mode than
    the fit's is found.
    """
    seeds = np.random.SeedSequence([settings.random_seed, 0xE7B]).spawn(2 + MAX_MODES)
    rng = np.random.default_rng(seeds[0])
    starts = em_starts(y, spec, EM_STARTS, rng)[:MAX_MODES]
    names = ("weights", *spec.components_family.sampled_names)
    checked = ("weights", *spec.components_family.names)
    trees = [result.idata["posterior"].to_dataset()]
    draws = int(trees[0].sizes["draw"])  # the fit's, extended or not
    for i, start in enumerate(starts):
        seed = int(seeds[2 + i].generate_state(1)[0])
        run = replace(settings, draws=draws, chains=EXPLORE_CHAINS, random_seed=seed)
        tree = sample(
            result._model, y, spec, run, progressbar=progressbar, start=start, **sample_kwargs
        )
        trees.append(tree["posterior"].to_dataset())
    keep = [*names, *(v for v in checked if v not in names)]
    pooled = xr.concat([t[keep] for t in trees], dim="chain", coords="minimal", compat="override")
    pooled = pooled.assign_coords(chain=np.arange(pooled.sizes["chain"]))
    values = np.concatenate([_rows(pooled[v]) for v in checked])
    groups = chain_groups(values)
    fit_chains = set(range(result.idata["posterior"].sizes["chain"]))
    step = max(pooled.sizes["draw"] // _FIT_DRAWS, 1)
    flat, log_density = unconstrained(result.model, pooled.isel(draw=slice(None, None, step)))
    labels = np.empty(pooled.sizes["chain"], dtype=int)
    for m, group in enumerate(groups):
        labels[group] = m
    masses = mode_masses(log_density, list(flat), labels.tolist(), np.random.default_rng(seeds[1]),
                         _IS_DRAWS)  # fmt: skip
    fit_mode = max(range(len(groups)), key=lambda m: len(fit_chains & set(groups[m])))
    heaviest = int(np.argmax(masses["mass"]))
    moved = heaviest != fit_mode
    if moved:
        tree = xr.DataTree.from_dict({"posterior": pooled})
        start = consensus_start(tree, groups[heaviest], names)
        result = refit(start)
    modes = []
    for m, group in enumerate(groups):
        part = pooled.sel(chain=group)
        modes.append({
            "mass": float(masses["mass"][m]),
            "mass_se": float(masses["mass_se"][m]),
            "is_ess": float(masses["ess"][m]),
            "chains": [int(c) for c in group],
            "fit_chains": sorted(fit_chains & set(group)),
            "sampled_by_fit": m == (heaviest if moved else fit_mode),
            "means": {v: part[v].mean(("chain", "draw")).values.tolist() for v in checked},
        })  # fmt: skip
    idata = result.idata.copy()
    idata.attrs[MODES_ATTR] = json.dumps(
        {"em_starts": EM_STARTS, "optima": len(starts), "chains_per_optimum": EXPLORE_CHAINS,
         "pareto_k": masses["pareto_k"], "refit_in_heaviest_mode": moved, "modes": modes}
    )  # fmt: skip
    return MixtureResult(idata, model=result._model)


def _rows(da: xr.DataArray) -> np.ndarray:
    """Return (component, chain, draw) values of one variable."""
    return np.moveaxis(np.asarray(da.transpose("chain", "draw", "component").values), -1, 0)
