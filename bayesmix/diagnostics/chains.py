"""Chains in different modes, and components that are empty or collapsed.

Two checks of a mixture's posterior that are about its structure rather than about
Monte Carlo error: whether the chains settled in one mode (grouped by their means of
every checked quantity), and whether each component holds a group of observations.
:mod:`bayesmix.diagnostics.checks` turns their findings into messages with remedies.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODE_GAP_SD", "chain_groups", "component_issues", "stray_chains"]

#: Two chains whose means of some checked quantity sit more than this many pooled
#: within-chain standard deviations apart are "in different modes". Within one mode,
#: chain means differ by Monte Carlo error, a small fraction of a standard deviation.
MODE_GAP_SD = 3.0
#: A component expected to hold fewer observations than this is "empty".
EMPTY_COUNT = 1.0
#: A component expected to hold fewer observations than this models outliers, not a group.
MIN_GROUP_SIZE = 3.0
#: A component whose median sigma is below this fraction of the data's sd has collapsed.
COLLAPSE_FRACTION = 0.02


def chain_groups(values: np.ndarray) -> list[list[int]]:
    """Chains grouped by the mode they settled in, largest group first.

    Two chains are in one mode when, for every quantity, their means differ by at most
    ``MODE_GAP_SD`` pooled within-chain sds; groups are the connected sets of that
    relation. ``values`` has shape (quantity, chain, draw).
    """
    n_chains = values.shape[1]
    chain_mean = values.mean(axis=2)
    within_sd = np.sqrt(values.var(axis=2).mean(axis=1))
    within_sd = np.where(within_sd > 0, within_sd, np.inf)
    scaled = chain_mean / within_sd[:, None]
    gap = np.abs(scaled[:, :, None] - scaled[:, None, :]).max(axis=0)
    agree = gap <= MODE_GAP_SD
    groups, seen = [], set()
    for first in range(n_chains):
        if first in seen:
            continue
        group, todo = {first}, [first]
        while todo:
            c = todo.pop()
            for d in np.flatnonzero(agree[c]):
                if int(d) not in group:
                    group.add(int(d))
                    todo.append(int(d))
        seen |= group
        groups.append(sorted(group))
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def stray_chains(groups: list[list[int]]) -> tuple[int, ...]:
    """Chains outside the one largest group; every chain if no group is the largest.

    Without a single largest group there is no telling which mode is the main one, so
    no chain may be rerun from the others' consensus (that could pull every chain into
    a minor mode).
    """
    if len(groups) < 2:
        return ()
    if len(groups[0]) == len(groups[1]):
        return tuple(sorted(c for g in groups for c in g))
    return tuple(sorted(c for g in groups[1:] for c in g))


def component_issues(draws: dict[str, np.ndarray], y: np.ndarray) -> tuple[tuple[str, ...], float]:
    """Empty components and collapsed sigmas; and the effective number of components."""
    w, sigma = draws["weights"], draws["sigma"]
    effective = float(np.mean(1.0 / np.sum(w**2, axis=-1)))
    issues = []
    expected_n = y.size * w.mean(axis=(0, 1))
    for k in np.flatnonzero(expected_n < EMPTY_COUNT):
        issues.append(
            f"component {k} is empty: its weight ({w[..., k].mean():.2g}) gives it "
            f"{expected_n[k]:.2g} of {y.size} observations; the data support fewer "
            f"components (effective number {effective:.2f}): fit fewer components or "
            "compare K with bm.compare"
        )
    for k in np.flatnonzero((expected_n >= EMPTY_COUNT) & (expected_n < MIN_GROUP_SIZE)):
        issues.append(
            f"component {k} holds only {expected_n[k]:.2g} of {y.size} observations: it "
            "models an outlier or a spike, not a group; check those points "
            "(res.predict() == k), and fit fewer components if they are not a group"
        )
    median_sigma = np.median(sigma, axis=(0, 1))
    for k in np.flatnonzero(median_sigma < COLLAPSE_FRACTION * np.std(y)):
        issues.append(
            f"component {k} has collapsed: its sigma ({median_sigma[k]:.3g}) is under "
            f"{COLLAPSE_FRACTION:.0%} of the data's sd, a spike on a few points; use "
            "priors=bm.Priors(sigma_prior='gamma') (or 'invgamma') or fewer components"
        )
    return tuple(issues), effective
