"""Chains stuck in a minor mode: a consensus start, and splicing rerun chains back in.

Even from the k-means start, a chain can settle in a minor mode of a mixture posterior
(two components swapping roles on part of the data, say). :func:`bayesmix.fit` detects
such "stray" chains (:mod:`bayesmix.diagnostics.checks`) and reruns each of them once, with a
new seed, from the consensus of the other chains (their posterior mean), which lies in
the main mode. The rerun chains replace the stray ones under the same chain numbers and
the rerun is recorded in the tree's attrs (``bayesmix_reruns``). If a rerun chain
strays again, the posterior really has several modes and the usual warning is issued.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["RERUN_ATTR", "consensus_start", "record_rerun", "splice_chains"]

RERUN_ATTR = "bayesmix_reruns"
#: Groups whose chains are replaced; the log-likelihood is recomputed by the caller.
_CHAIN_GROUPS = ("posterior", "sample_stats")


def consensus_start(
    idata: xr.DataTree, chains: Sequence[int], names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Posterior mean of ``chains`` on the sampled (standardised) scale, as a start.

    Means of ordered values are ordered and means of simplex points are on the simplex,
    so the result is a valid start for the ordered and Dirichlet transforms. ``names``:
    the sampled variables (e.g. ``weights``, ``mu_z``, ``sigma_z``).
    """
    post = idata["posterior"].to_dataset().sel(chain=list(chains))
    start = {}
    for name in names:
        if name in post:
            start[name] = np.asarray(post[name].mean(("chain", "draw")), dtype=np.float64)
    if "weights" in start:
        start["weights"] = start["weights"] / start["weights"].sum()
    return start


def splice_chains(idata: xr.DataTree, rerun: xr.DataTree, chains: Sequence[int]) -> xr.DataTree:
    """Return ``idata`` with ``chains`` replaced by the chains of ``rerun``, in order.

    Only the per-chain groups (posterior, sample_stats) change; any log-likelihood group
    is dropped, since it described the replaced draws.
    """
    out = idata.copy()
    for group in _CHAIN_GROUPS:
        if group not in idata.children or group not in rerun.children:
            continue
        old = idata[group].to_dataset()
        new = rerun[group].to_dataset()
        new = new.assign_coords(chain=np.asarray(chains, dtype=old["chain"].dtype))
        keep = old.drop_sel(chain=list(chains))
        merged = xr.concat([keep, new[list(old.data_vars)]], dim="chain").sortby("chain")
        out[group] = xr.DataTree(merged.assign_attrs(old.attrs))
    if "log_likelihood" in out.children:
        del out["log_likelihood"]
    return out


def record_rerun(
    idata: xr.DataTree, chains: Sequence[int], seed: int, start: dict[str, np.ndarray]
) -> None:
    """Note in ``idata.attrs`` which chains were rerun, with what seed and start."""
    entry: dict[str, Any] = {
        "chains": [int(c) for c in chains],
        "seed": int(seed),
        "start": {k: np.asarray(v).tolist() for k, v in start.items()},
    }
    previous = json.loads(idata.attrs.get(RERUN_ATTR, "[]"))
    idata.attrs[RERUN_ATTR] = json.dumps([*previous, entry])
