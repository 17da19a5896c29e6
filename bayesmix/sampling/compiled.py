"""nutpie on the PyMC model, compiled once and reused for every data set.

``pm.sample(nuts_sampler="nutpie")`` compiles the model into numba C callbacks on every
call (several seconds, whatever the data size). bayesmix compiles the model with
nutpie's public ``compile_pymc_model`` once per structure and swaps data, priors and
starts through the model's shared variables (``CompiledPyMCModel.with_data``), so a
second fit with the same family, K and sigma prior starts sampling at once.

What is compiled is always the model that is sampled: the standard model of a spec is
built by :func:`bayesmix.model.build_model` and cached under (family, K, sigma prior),
whose values are the only things that change its graph; every number that depends on
the data or priors is a shared variable. A model passed in by the user (extended, or
built by hand) is compiled from its own graph and cached per model object, never
replaced by the standard one.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import nutpie
import pymc as pm
import xarray as xr

from bayesmix.model.build import build_model, shared_values
from bayesmix.model.spec import MixtureSpec
from bayesmix.model.starts import StartValues

__all__ = ["sample_nutpie"]


@dataclass(frozen=True)
class _Compiled:
    """nutpie's compiled model and the shared start values its start function reads."""

    compiled: Any
    starts: StartValues
    #: Held while a start is set and read: fits in threads share ``starts``.
    lock: threading.Lock = field(default_factory=threading.Lock)


#: Standard models by (family, K, sigma prior).
_STANDARD: dict[tuple[str, int, str], _Compiled] = {}
#: Models passed in by users, per model object (dropped with the model).
_BY_MODEL: weakref.WeakKeyDictionary[pm.Model, _Compiled] = weakref.WeakKeyDictionary()


def _compile(model: pm.Model, start: dict[str, np.ndarray]) -> _Compiled:
    starts = StartValues.for_model(model, start)
    compiled = nutpie.compile_pymc_model(model, initial_points=starts.strategies, jitter_rvs=set())
    return _Compiled(compiled, starts)


def _standard_key(spec: MixtureSpec) -> tuple[str, int, str]:
    return (spec.family, spec.n_components, spec.priors.sigma_prior)


def compiled_for(
    model: pm.Model | None, y: np.ndarray, spec: MixtureSpec, start: dict[str, np.ndarray]
) -> Any:
    """Nutpie's compiled model of ``model`` (None: the standard model of ``spec``).

    The compiled model holds ``y``, the priors of ``spec`` and ``start``.
    """
    if model is None:
        key = _standard_key(spec)
        entry = _STANDARD.get(key)
        if entry is None:
            entry = _STANDARD[key] = _compile(build_model(y, spec), start)
        return _starting_at(entry, entry.compiled.with_data(**shared_values(y, spec)), start)
    entry = _BY_MODEL.get(model)
    if entry is None:
        entry = _BY_MODEL[model] = _compile(model, start)
    return _starting_at(entry, entry.compiled, start)


def _starting_at(entry: _Compiled, compiled: Any, start: dict[str, np.ndarray]) -> Any:
    """Return ``compiled`` with chains that start (jittered) from ``start``.

    nutpie calls the start function as each chain begins, long after ``sample`` was
    called when chains run one after another; fits in other threads may have set
    their own start by then. So this fit's start is set in the call itself, under the
    entry's lock, around nutpie's own start function (``initial_point_func``, a field
    of nutpie's frozen ``CompiledPyMCModel``, replaced as ``with_data`` does).
    """
    pinned = {name: np.array(value, dtype=np.float64) for name, value in start.items()}
    initial_point = compiled.initial_point_func

    def initial_point_here(seed: Any) -> Any:
        with entry.lock:
            entry.starts.set(pinned)
            return initial_point(seed)

    return dataclasses.replace(compiled, initial_point_func=initial_point_here)


def sample_nutpie(
    model: pm.Model | None,
    y: np.ndarray,
    spec: MixtureSpec,
    start: dict[str, np.ndarray],
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    random_seed: int,
    target_accept: float,
    progressbar: bool,
    **nuts_kwargs: Any,
) -> xr.DataTree:
    """Sample with nutpie (see the module docstring for what is compiled).

    ``model`` None stands for ``build_model(y, spec)``, compiled once per structure.
    Returns the tree with ``posterior``, ``sample_stats`` and ``observed_data``.
    """
    compiled = compiled_for(model, y, spec, start)
    t_start = time.time()
    sampler = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(tune, 1),  # nuts-rs needs at least one tuning step
        chains=chains,
        cores=cores,
        seed=random_seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=target_accept,
        blocking=False,
        **nuts_kwargs,
    )
    try:
        trace = sampler.wait()
    except KeyboardInterrupt:
        sampler.cancel()
        raise
    except BaseException:
        sampler.cancel()
        raise
    sampling_time = time.time() - t_start
    posterior = trace["posterior"].to_dataset()
    # the compiled model's coords are those of the data it was first built with
    stale = [name for name in posterior.coords if name not in posterior.dims]
    trace["posterior"] = xr.DataTree(
        posterior.drop_vars(stale).assign_attrs(
            sampling_time=sampling_time, tuning_steps=int(tune)
        )
    )
    trace["observed_data"] = xr.DataTree(
        xr.Dataset({"y": ("obs", y)}, coords={"obs": np.arange(y.size)})
    )
    return trace
