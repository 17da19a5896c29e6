"""One fit of a fixed number of components: build the spec, sample, check, rerun strays."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from bayesmix.data import check_n_components
from bayesmix.diagnostics.checks import ESS_MIN
from bayesmix.model import FamilyName, MixtureSpec, Priors
from bayesmix.result import MixtureResult
from bayesmix.sampling.explore import explore as explore_modes
from bayesmix.sampling.extend import check_budget, default_max_draws, extend_to_target
from bayesmix.sampling.nuts import attach_log_likelihood, sample
from bayesmix.sampling.settings import Sampler, SamplerSettings, random_seed_of, resolve_sampler
from bayesmix.sampling.stray import consensus_start, record_rerun, splice_chains

__all__ = ["fit_components"]


def fit_components(
    y: np.ndarray,
    n_components: int,
    *,
    family: FamilyName = "normal",
    priors: Priors | dict[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    target_accept: float = 0.9,
    random_seed: int | None = None,
    sampler: Sampler = "auto",
    progressbar: bool = True,
    rerun_stray: bool = True,
    ess_target: float | None = ESS_MIN,
    max_draws: int | None = None,
    max_time: float | None = None,
    explore: bool = False,
    warn: bool = True,
    **sample_kwargs: Any,
) -> MixtureResult:
    """Fit ``n_components`` components to validated data ``y``: :func:`bayesmix.fit`'s work.

    The arguments are :func:`bayesmix.fit`'s (see there), with ``y`` already validated;
    :func:`bayesmix.fit` and :func:`bayesmix.compare` both call this. ``warn=False``
    leaves the verdict in ``result.diagnostics`` without issuing its warnings (a task
    in a worker thread cannot catch warnings: ``warnings.catch_warnings`` is global).
    """
    k = check_n_components(n_components, y.size)
    check_budget(ess_target, max_draws, max_time)
    spec = MixtureSpec.from_data(y, k, priors, family)
    settings = SamplerSettings(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=random_seed_of(random_seed),
        sampler=resolve_sampler(sampler),
        cores=cores,
    )
    result = _sample_checked(y, spec, settings, rerun_stray, progressbar, sample_kwargs)
    if ess_target is not None:
        result = extend_to_target(
            result,
            lambda draws: _sample_checked(
                y, spec, replace(settings, draws=draws), rerun_stray, progressbar, sample_kwargs
            ),
            settings,
            ess_target,
            default_max_draws(settings) if max_draws is None else max_draws,
            max_time,
        )
    if explore:
        result = explore_modes(
            result, y, spec, settings,
            lambda start: _sample_checked(y, spec, replace(settings, draws=_draws_of(result)),
                                          rerun_stray, progressbar, sample_kwargs, start),
            progressbar, sample_kwargs,
        )  # fmt: skip
    if warn:
        result.check_convergence(stacklevel=3)
    return result


def _sample_checked(
    y: np.ndarray,
    spec: MixtureSpec,
    settings: SamplerSettings,
    rerun_stray: bool,
    progressbar: bool,
    sample_kwargs: dict[str, Any],
    start: dict[str, np.ndarray] | None = None,
) -> MixtureResult:
    """Sample the standard model of ``spec``; rerun stray chains if asked (see stray)."""
    # model None: the standard model of spec, which nutpie compiles once per structure;
    # res.model builds it for this data on first access
    idata = sample(None, y, spec, settings, progressbar=progressbar, start=start, **sample_kwargs)
    result = MixtureResult(idata)
    stray = result.diagnostics.stray_chains
    if rerun_stray and stray and len(stray) < settings.chains:
        result = _rerun_stray(result, y, spec, settings, stray, progressbar, sample_kwargs)
    return result


def _draws_of(result: MixtureResult) -> int:
    return int(result.idata["posterior"].sizes["draw"])


def _rerun_stray(
    result: MixtureResult,
    y: np.ndarray,
    spec: MixtureSpec,
    settings: SamplerSettings,
    stray: tuple[int, ...],
    progressbar: bool,
    sample_kwargs: dict[str, Any],
) -> MixtureResult:
    """Rerun the chains in a minor mode from the others' consensus (see sampling.stray)."""
    good = [c for c in range(settings.chains) if c not in stray]
    start = consensus_start(result.idata, good, ("weights", *spec.components_family.sampled_names))
    seed = int(np.random.SeedSequence([settings.random_seed, 0x57A7]).generate_state(1)[0])
    rerun_settings = replace(settings, chains=len(stray), random_seed=seed)
    rerun = sample(
        result._model, y, spec, rerun_settings, progressbar=progressbar, start=start,
        **sample_kwargs,
    )  # fmt: skip
    idata = splice_chains(result.idata, rerun, stray)
    attach_log_likelihood(idata, y, spec)
    record_rerun(idata, stray, seed, start)
    return MixtureResult(idata, model=result._model)
