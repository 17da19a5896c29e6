"""NUTS on a mixture model: ``sample`` (model to DataTree) with bayesmix's starts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bayesmix.data.provenance import data_fingerprint, package_versions
from bayesmix.model import MixtureSpec, StartValues, build_model, start_values
from bayesmix.posterior.loglik import lazy_log_likelihood_dataset
from bayesmix.sampling.compiled import sample_nutpie
from bayesmix.sampling.settings import SamplerSettings, SamplingError

__all__ = ["LOG_LIK_MAX_VALUES", "LOG_LIK_STORE_MAX_VALUES", "attach_log_likelihood", "sample"]

#: JAX-based samplers: they sample the model's pointwise form (pm.Mixture), since the
#: fused likelihood is a numba kernel.
_JAX_SAMPLERS = ("numpyro", "blackjax")

#: Largest chains x draws x N for which a fit has the pointwise log-likelihood group: 80 MB
#: of float64, N <= 2,500 at 4 x 1000 draws. The group is computed when first read (see
#: bayesmix.posterior.loglik) and then held; above the limit it is left out, so that reading the
#: tree never allocates more (at N = 10^4: 320 MB, ~0.5 s); LOO derives what it needs.
LOG_LIK_STORE_MAX_VALUES = 10_000_000
#: Largest pointwise log-likelihood derived in one piece on demand (400 MB), as bm.compare
#: does for PSIS-LOO with moment matching; above it, LOO runs block by block.
LOG_LIK_MAX_VALUES = 50_000_000


def sample(
    model: pm.Model | None,
    y: np.ndarray,
    spec: MixtureSpec,
    settings: SamplerSettings,
    *,
    progressbar: bool = True,
    start: dict[str, np.ndarray] | None = None,
    **sample_kwargs: Any,
) -> xr.DataTree:
    """Run NUTS on a model from :func:`build_model` and return the DataTree.

    Every chain starts near the k-means solution (see :func:`bayesmix.model.start_values`)
    with a small jitter (:mod:`bayesmix.model.starts`), so that chains begin in the posterior's
    main mode. The returned tree has groups ``posterior``, ``sample_stats``,
    ``log_likelihood`` (computed when first read, see :mod:`bayesmix.posterior.loglik`; left out
    when chains x draws x N exceeds ``LOG_LIK_STORE_MAX_VALUES``) and ``observed_data``;
    its attrs record the spec, the settings and the data fingerprint. ``start``
    (constrained values of the sampled variables) replaces the k-means start.

    ``model`` is what is sampled. None means the standard model ``build_model(y, spec)``
    (for the JAX samplers its pointwise form, the same density), which nutpie compiles
    once per family, K and sigma prior and reuses with new data; a model you pass
    (extended, say) is compiled from its own graph.
    """
    if start is None:
        start = start_values(y, spec)
    cores = settings.cores
    if cores is None:
        # PyMC's own default is half the CPUs (one job on a 2-core machine).
        cores = min(settings.chains, os.cpu_count() or 1)
    if settings.sampler == "nutpie" and set(sample_kwargs) <= {"nuts", "nuts_sampler_kwargs"}:
        nuts = {**sample_kwargs.get("nuts", {}), **sample_kwargs.get("nuts_sampler_kwargs", {})}
        try:
            idata = sample_nutpie(
                model, y, spec, start, draws=settings.draws, tune=settings.tune,
                chains=settings.chains, cores=cores, random_seed=settings.random_seed,
                target_accept=settings.target_accept, progressbar=progressbar, **nuts,
            )  # fmt: skip
        except (RuntimeError, FloatingPointError) as err:
            raise _sampling_error(err, settings.sampler, spec) from err
    else:
        if model is None:
            model = build_model(y, spec, pointwise=settings.sampler in _JAX_SAMPLERS)
        idata = _sample_pymc(model, start, spec, settings, cores, progressbar, sample_kwargs)
    if "log_likelihood" not in idata.children:
        attach_log_likelihood(idata, y, spec)
    idata.attrs.update(
        {
            "bayesmix_spec": json.dumps(spec.to_dict()),
            "bayesmix_sampler_settings": json.dumps(settings.to_dict()),
            "bayesmix_data_sha256": data_fingerprint(y),
            "bayesmix_versions": json.dumps(package_versions()),
        }
    )
    return idata


def _sampling_error(err: Exception, sampler: str, spec: MixtureSpec) -> SamplingError:
    text = str(err).strip()
    return SamplingError(
        f"the {sampler} sampler failed: "
        f"{text.splitlines()[0] if text else type(err).__name__}. Try another sampler "
        "(sampler='pymc' or 'nutpie'), fewer components (now "
        f"{spec.n_components}), or a zero-avoiding sigma prior "
        "(priors=bm.Priors(sigma_prior='gamma'))"
    )


def _sample_pymc(
    model: pm.Model,
    start: dict[str, np.ndarray],
    spec: MixtureSpec,
    settings: SamplerSettings,
    cores: int,
    progressbar: bool,
    sample_kwargs: dict[str, Any],
) -> xr.DataTree:
    """``pm.sample`` with our starts, for PyMC's NUTS, numpyro and nutpie with extras."""
    kwargs = _start_kwargs(model, start, settings)
    if "nuts" in kwargs and "nuts" in sample_kwargs:
        sample_kwargs = {**sample_kwargs, "nuts": {**kwargs["nuts"], **sample_kwargs["nuts"]}}
    kwargs.update(sample_kwargs)
    if settings.sampler == "pymc" and _jax_started():
        # Forking a process whose JAX runtime has started threads can deadlock.
        kwargs.setdefault("mp_ctx", "forkserver")
    try:
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            random_seed=settings.random_seed,
            progressbar=progressbar,
            nuts_sampler=settings.sampler,
            target_accept=settings.target_accept,
            compute_convergence_checks=False,
            model=model,
            **kwargs,
        )
    except NotImplementedError as err:
        if settings.sampler in _JAX_SAMPLERS and "FusedMixtureLogLik" in str(err):
            raise ValueError(
                f"sampler={settings.sampler!r} runs on JAX, which cannot evaluate the "
                "fused likelihood of this model; build it with "
                "bm.build_model(y, spec, pointwise=True) (the same density)"
            ) from err
        raise
    except (RuntimeError, FloatingPointError, pm.exceptions.SamplingError) as err:
        raise _sampling_error(err, settings.sampler, spec) from err
    if idata["posterior"].sizes["draw"] < settings.draws:
        # pm.sample catches Ctrl-C and returns the draws so far; a fit of them would
        # look like a short, finished run
        raise KeyboardInterrupt(
            f"sampling was interrupted after {idata['posterior'].sizes['draw']} of "
            f"{settings.draws} draws"
        )
    return idata


def _jax_started() -> bool:
    """Whether JAX has initialised a backend (and its threads) in this process.

    PyTensor imports ``jax`` modules without starting JAX; only a started backend makes
    forking unsafe, and forkserver costs ~10 s per fit, so we use it only then.
    """
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def _start_kwargs(
    model: pm.Model, start: dict[str, np.ndarray], settings: SamplerSettings
) -> dict[str, Any]:
    """Arguments to ``pm.sample`` that start every chain in the main mode, per sampler.

    ``pm.sample``'s nutpie takes one start for all chains (bayesmix normally calls nutpie
    itself, with per-chain starts): it gets the first chain's.
    """
    starts = StartValues.for_model(model, start).per_chain(
        model, settings.chains, settings.random_seed
    )
    if settings.sampler == "nutpie":
        return {"initvals": starts[0], "compile_kwargs": {"jitter_rvs": set()}}
    if settings.sampler == "pymc":
        return {"initvals": starts, "init": "adapt_diag"}
    return {"initvals": starts, "nuts": {"jitter": False}}


def attach_log_likelihood(idata: xr.DataTree, y: np.ndarray, spec: MixtureSpec) -> None:
    """Add the pointwise log-likelihood group, computed when first read (posterior.loglik).

    Left out above LOG_LIK_STORE_MAX_VALUES: once read, it would be held in memory.
    """
    posterior = idata["posterior"].to_dataset()
    if posterior.sizes["chain"] * posterior.sizes["draw"] * y.size <= LOG_LIK_STORE_MAX_VALUES:
        idata["log_likelihood"] = xr.DataTree(
            lazy_log_likelihood_dataset(posterior, y, spec.family)
        )
