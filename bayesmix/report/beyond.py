"""What sampling did beyond the plain run, as report blocks.

The extension to the ESS target (:mod:`bayesmix.sampling.extend`) and the modes an
exploration found (:mod:`bayesmix.sampling.explore`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bayesmix.diagnostics.checks import EXTENSION_ATTR
from bayesmix.posterior.modes import modes_table
from bayesmix.report import render as r
from bayesmix.report.render import number as _f

if TYPE_CHECKING:
    from bayesmix.posterior.fitted import Fitted

__all__ = ["extension_text", "modes_blocks"]


def extension_text(result: Fitted) -> tuple[r.Text, ...]:
    """Say how sampling was extended to the ESS target, if it was."""
    ext = json.loads(result.idata.attrs.get(EXTENSION_ATTR, "null"))
    if not ext:
        return ()
    rounds = ext["rounds"]
    return (
        r.Text(
            f"Sampling was extended to the ESS target {ext['ess_target']:g}: the smallest "
            f"bulk or tail ESS was {rounds[0]['min_ess_before']:.0f} with "
            f"{ext['draws_asked']} draws per chain, so the chains were continued to "
            f"{ext['draws_reached']} draws ({len(rounds)} round(s); the same seed, so the "
            f"first draws are the original ones), reaching {ext['min_ess_after']:.0f} "
            f"({ext['stopped']}; budget {ext['max_draws']} draws over all chains)."
        ),
    )


def modes_blocks(result: Fitted) -> tuple[r.Block, ...]:
    """Return the modes ``explore=True`` found, with their mass (nothing if it did not run)."""
    modes = modes_table(result.idata)
    if modes is None:
        return ()
    names = ("weights", *result.family.names)
    rows = tuple(
        (
            str(i),
            f"{row['mass']:.2%} \N{PLUS-MINUS SIGN} {row['mass_se']:.2%}",
            "yes" if row["sampled_by_fit"] else "no",
            *("[" + ", ".join(_f(v) for v in row[n]) + "]" for n in names),
        )
        for i, row in modes.iterrows()
    )
    text = r.Text(
        f"explore=True: chains from the distinct optima of multi-start EM settled in "
        f"{len(modes)} mode(s), weighed by importance sampling (Pareto k "
        f"{_f(modes.attrs['pareto_k'], 2)}; reliable below 0.7). The summaries above "
        "describe the mode the fit samples."
    )
    header = ("mode", "posterior mass", "sampled by the fit", *(f"mean {n}" for n in names))
    return (text, r.Table(header, rows))
