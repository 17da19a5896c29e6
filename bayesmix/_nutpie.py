"""nutpie, called directly: compile a model once per structure, then only swap the data.

``pm.sample(nuts_sampler="nutpie")`` compiles the model into numba C callbacks on every
call (about 10 s, not cached across calls) although the sampling itself takes a second
or two at N = 10^3. :func:`bayesmix.model.build_model` puts every data- and
prior-dependent number into named shared variables, so two models with the same K and
sigma-prior family have the same graph: the compiled model is kept per structure and
reused through ``CompiledPyMCModel.with_data``.

nutpie takes one start function for all chains; ours gives each chain its own small
jitter around the k-means start (seeded by the chain's seed), as the other samplers get.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bayesmix.model import SHARED_NAMES, jittered_starts

__all__ = ["sample_nutpie", "unconstrained"]

_COMPILED: dict[tuple[Any, ...], Any] = {}


def unconstrained(model: pm.Model, start: dict[str, np.ndarray]) -> np.ndarray:
    """Map a start (constrained ``weights``, ``mu_z``, ``sigma_z``) to nutpie's flat vector.

    The layout is nutpie's: the model's value variables in order, each raveled. The
    transforms are PyMC's simplex (``log x[:-1] - mean(log x)``), ordered (first value,
    then log-gaps) and log; a test checks them against PyMC's own.
    """
    parts = []
    for rv in model.free_RVs:
        x = np.asarray(start[rv.name], dtype=np.float64)
        name = model.rvs_to_values[rv].name
        if name.endswith("_simplex__"):
            logx = np.log(x)
            parts.append(logx[:-1] - logx.mean())
        elif name.endswith("_ordered__"):
            parts.append(np.concatenate([x[:1], np.log(np.diff(x))]))
        elif name.endswith("_log__"):
            parts.append(np.log(x))
        elif name == rv.name:
            parts.append(x)
        else:
            raise ValueError(f"no start transform for {name!r}")
    return np.concatenate([p.ravel() for p in parts])


def _structure(model: pm.Model) -> tuple[Any, ...]:
    """Return what the compiled graph depends on besides the shared variables.

    That is the variables with their distributions and transforms, and K.
    """
    free = tuple(
        (rv.name, type(rv.owner.op).__name__, type(model.rvs_to_transforms.get(rv)).__name__)
        for rv in model.free_RVs
    )
    observed = tuple((rv.name, type(rv.owner.op).__name__) for rv in model.observed_RVs)
    k = len(model.coords["component"])
    return (free, observed, tuple(d.name for d in model.deterministics), k)


def _start_function(
    model: pm.Model, start: dict[str, np.ndarray], seed: int
) -> Callable[[Any], np.ndarray]:
    """Start function for nutpie: chain seed -> jittered start, unconstrained and flat."""
    free = {rv.name for rv in model.free_RVs}

    def initial_point(chain_seed: Any) -> np.ndarray:
        rng = np.random.default_rng([seed, 0xB1E5, int(np.asarray(chain_seed).ravel()[0])])
        jittered = jittered_starts(start, 1, rng)[0]
        return unconstrained(model, {k: v for k, v in jittered.items() if k in free})

    return initial_point


def sample_nutpie(
    model: pm.Model,
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
    """Sample ``model`` with nutpie, reusing a compiled model of the same structure."""
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    key = _structure(model)
    shared = _shared_values(model)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(model, jitter_rvs=set())
        _COMPILED[key] = compiled
    else:
        compiled = compiled.with_data(**shared)
    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    compiled = dataclasses.replace(
        compiled,
        initial_point_func=_start_function(model, start, random_seed),
        _coords=coords,
    )
    t_start = time.time()
    idata = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(tune, 1),  # nuts-rs needs at least one tuning step
        chains=chains,
        cores=cores,
        seed=random_seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=target_accept,
        **nuts_kwargs,
    )
    patch_nutpie_idata(idata, model, sampling_time=time.time() - t_start)
    return idata


def _shared_values(model: pm.Model) -> dict[str, np.ndarray]:
    """Return the values of the model's named shared variables (``SHARED_NAMES``)."""
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.sharedvar import TensorSharedVariable

    # the RVs' parameters, the observed values and the deterministics reach every shared
    # variable without building the log-density graph (~0.2 s)
    outputs = [*model.basic_RVs, *model.rvs_to_values.values(), *model.deterministics]
    return {
        v.name: v.get_value(borrow=True)
        for v in ancestors(outputs)
        if isinstance(v, TensorSharedVariable) and v.name in SHARED_NAMES
    }
