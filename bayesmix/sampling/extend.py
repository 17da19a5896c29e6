"""More draws until the ESS target is met: a fit that is only short of draws gets them.

A fit whose chains agree (r_hat at most marginally high, rank test, no stray chain) and
that saw no divergence, but whose bulk or tail ESS falls short of ``ess_target``, is
sampled again with longer chains: the same seed, starts and tuning, and ``draws`` raised
to what the ESS per draw so far says is needed (with a margin), until the target is met
or the budget runs out (``max_draws``, post-tuning draws over all chains; optionally
``max_time`` seconds). Longer chains, not more of them: r_hat of short chains is
inflated by their length, whatever their number, and ESS grows with either. With
nutpie, a chain with the same seed and more draws repeats the shorter chain's draws
exactly and continues it (tested), so the extended fit *is* the original one, continued;
it equals ``bm.fit(..., draws=<the draws reached>, ess_target=None)``. What was done is
recorded in the tree's attrs (``bayesmix_extension``): the target, the budget, each
round's draws per chain and the ESS before it, and why it stopped.

A fit with chains in different modes, a failed rank test, divergences or r_hat above
``R_HAT_EXTEND`` is never extended: more draws do not repair chains that disagree.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from bayesmix.diagnostics.checks import EXTENSION_ATTR
from bayesmix.result import MixtureResult
from bayesmix.sampling.settings import SamplerSettings

__all__ = ["check_budget", "default_max_draws", "extend_to_target"]

#: Aim this much above the target: ESS grows about linearly in draws, not exactly.
_MARGIN = 1.15
#: Each round raises the draws at least this much (no rounds of a few draws).
_MIN_GROWTH = 1.25
#: r_hat up to this is extended: short chains inflate r_hat (1.02 at 400 draws of
#: chains that agree is common), and longer chains either bring it under 1.01 or show
#: that the chains disagree. Above it, or with stray chains, rank-test failures or
#: divergences, more draws would not help and the fit is left as it is.
R_HAT_EXTEND = 1.05
#: ``max_draws`` when not given: this many times the draws first asked for.
_DEFAULT_BUDGET = 4


def default_max_draws(settings: SamplerSettings) -> int:
    """Return the default budget: four times the post-tuning draws first asked for."""
    return _DEFAULT_BUDGET * settings.draws * settings.chains


def check_budget(ess_target: Any, max_draws: Any, max_time: Any) -> None:
    """Raise a ValueError naming the argument if a target or budget is not usable."""
    if ess_target is not None and (
        isinstance(ess_target, bool) or not isinstance(ess_target, int | float) or ess_target <= 0
    ):
        raise ValueError(
            f"ess_target={ess_target!r}: give a positive number, or None for no extension"
        )
    if max_draws is not None and (
        isinstance(max_draws, bool) or not isinstance(max_draws, int) or max_draws <= 0
    ):
        raise ValueError(f"max_draws={max_draws!r}: give a positive whole number of draws")
    if max_time is not None and (
        isinstance(max_time, bool) or not isinstance(max_time, int | float) or max_time <= 0
    ):
        raise ValueError(f"max_time={max_time!r}: give a positive number of seconds")


def extend_to_target(
    result: MixtureResult,
    refit: Callable[[int], MixtureResult],
    settings: SamplerSettings,
    ess_target: float,
    max_draws: int,
    max_time: float | None = None,
) -> MixtureResult:
    """Refit with longer chains until the ESS reaches ``ess_target`` or the budget ends.

    ``refit(draws)`` samples the same model, seed and starts with ``draws`` per chain
    (stray chains rerun as in the first fit). Returns ``result`` itself when it needs
    no extension (its ESS is on target, or a check other than ESS failed).
    """
    if not _short(result, ess_target):
        return result
    began, stopped, draws = time.monotonic(), "target met", settings.draws
    cap = max_draws // settings.chains
    rounds: list[dict[str, Any]] = []
    while _short(result, ess_target):
        if draws >= cap:
            stopped = f"budget max_draws={max_draws} reached"
            break
        if max_time is not None and time.monotonic() - began > max_time:
            stopped = f"budget max_time={max_time:g} s reached"
            break
        ess = max(result.diagnostics.min_ess, 1.0)
        wanted = max(math.ceil(draws * _MARGIN * ess_target / ess), math.ceil(draws * _MIN_GROWTH))
        rounds.append({"draws_before": draws, "draws": min(wanted, cap),
                       "min_ess_before": round(ess, 1)})  # fmt: skip
        draws = min(wanted, cap)
        result = refit(draws)
    if not rounds:
        return result
    idata = result.idata.copy()
    idata.attrs[EXTENSION_ATTR] = json.dumps(
        {"ess_target": ess_target, "max_draws": max_draws, "max_time": max_time,
         "draws_asked": settings.draws, "draws_reached": draws, "rounds": rounds,
         "stopped": stopped, "min_ess_after": round(result.diagnostics.min_ess, 1)}
    )  # fmt: skip
    return MixtureResult(idata, model=result._model)


def _short(result: MixtureResult, ess_target: float) -> bool:
    """Return True when only draws are missing: ESS < target, no other failure.

    A marginal r_hat (up to ``R_HAT_EXTEND``) counts as missing draws: short chains
    have an inflated r_hat.
    """
    diag = result.diagnostics
    if set(diag.failed) - {"ess", "r_hat"}:
        return False
    r_hat = diag.table["r_hat"].to_numpy(float)
    marginal = not (r_hat > R_HAT_EXTEND).any()  # NaN: too few draws to tell, extend
    return marginal and diag.min_ess < ess_target
