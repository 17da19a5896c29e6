"""nutpie, called directly, without compiling a PyMC graph for bayesmix's own model.

``pm.sample(nuts_sampler="nutpie")`` compiles the model into numba C callbacks on every
call (about 10 s, not cached across calls or processes), although sampling takes a
second or two at N = 10^3. For a model exactly as :func:`bayesmix.model.build_model`
makes it, nutpie gets :func:`bayesmix._posterior.log_posterior` instead: the same density
(tested against the PyMC model), compiled once per machine into numba's disk cache and
handed to nuts-rs as a C function pointer, so no gradient passes through Python (at
N = 10^3 a Python callback made sampling ~8x slower: 3.1 s against 0.37 s). A
model the user extended is compiled from its PyMC graph, once per model object (its
shared values refreshed through ``with_data``): two extended models with the same
variables can differ in their constants, so structure alone is not a safe cache key.

nutpie takes one start function for all chains; ours gives each chain its own small
jitter around the k-means start (seeded by the chain's seed), as the other samplers get.
"""

from __future__ import annotations

import dataclasses
import json
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from bayesmix._nutpie_trace import library_attrs, trace_to_tree
from bayesmix.model import (
    SHARED_ALPHA,
    SHARED_NAMES,
    SHARED_OBSERVED,
    SHARED_PRIORS,
    SHARED_STANDARDISE,
    jittered_starts,
    shared_values,
)
from bayesmix.spec import MixtureSpec

__all__ = ["sample_nutpie", "unconstrained"]

#: The variables of the direct model's trace, each a vector over ``component``.
_DIRECT_NAMES = ("weights", "mu_z", "sigma_z", "mu", "sigma")
#: Compiled extended models, per model object (dropped with the model).
_COMPILED: weakref.WeakKeyDictionary[pm.Model, Any] = weakref.WeakKeyDictionary()


def unconstrained(model: pm.Model, start: dict[str, np.ndarray]) -> np.ndarray:
    """Map a start (constrained ``weights``, ``mu_z``, ``sigma_z``) to nutpie's flat vector.

    The layout is nutpie's: the model's value variables in order, each raveled. The
    transforms are PyMC's simplex (``log x[:-1] - mean(log x)``), ordered (first value,
    then log-gaps) and log; a test checks them against PyMC's own.
    """
    return _flatten(_layout(model), start)


def _layout(model: pm.Model) -> list[tuple[str, str]]:
    """(variable, value variable) names of the model's free variables, in order."""
    return [(rv.name, model.rvs_to_values[rv].name) for rv in model.free_RVs]


def _standard_layout(k: int) -> list[tuple[str, str]]:
    """Return the layout :func:`bayesmix.model.build_model` gives for K = k."""
    if k == 1:
        return [("mu_z", "mu_z"), ("sigma_z", "sigma_z_log__")]
    return [("weights", "weights_simplex__"), ("mu_z", "mu_z_ordered__"),
            ("sigma_z", "sigma_z_log__")]  # fmt: skip


def _flatten(layout: list[tuple[str, str]], start: dict[str, np.ndarray]) -> np.ndarray:
    parts = []
    for rv_name, name in layout:
        x = np.asarray(start[rv_name], dtype=np.float64)
        if name.endswith("_simplex__"):
            logx = np.log(x)
            parts.append(logx[:-1] - logx.mean())
        elif name.endswith("_ordered__"):
            parts.append(np.concatenate([x[:1], np.log(np.diff(x))]))
        elif name.endswith("_log__"):
            parts.append(np.log(x))
        elif name == rv_name:
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
    potentials = tuple(p.name for p in model.potentials)
    return (free, observed, tuple(d.name for d in model.deterministics), potentials, k)


def _start_function(
    layout: list[tuple[str, str]], start: dict[str, np.ndarray], seed: int
) -> Callable[[Any], np.ndarray]:
    """Start function for nutpie: chain seed -> jittered start, unconstrained and flat."""

    def initial_point(chain_seed: Any) -> np.ndarray:
        rng = np.random.default_rng([seed, 0xB1E5, int(np.asarray(chain_seed).ravel()[0])])
        return _flatten(layout, jittered_starts(start, 1, rng)[0])

    return initial_point


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

    ``model`` None stands for ``build_model(y, spec)``, which is then never built: the
    direct path needs only its numbers (:func:`bayesmix.model.shared_values`).
    """
    import nutpie

    # imported here: the module's C callbacks are compiled (or loaded) on import
    from bayesmix._posterior import FAMILY_CODES

    k = spec.n_components
    direct = True
    if model is None:
        family = FAMILY_CODES[spec.priors.sigma_prior]
        start_fn = _start_function(_standard_layout(k), start, random_seed)
        compiled = _direct_model(shared_values(y, spec), k, family, start_fn)
    elif _structure(model) == _standard_structure(k, model):
        sigma_rv = next(rv for rv in model.free_RVs if rv.name == "sigma_z")
        family = FAMILY_CODES[_FAMILY_OF_OP[type(sigma_rv.owner.op).__name__]]
        start_fn = _start_function(_layout(model), start, random_seed)
        compiled = _direct_model(_shared_values(model), k, family, start_fn)
    else:  # a model the user extended: compile its PyMC graph
        compiled = _compiled_graph(model, _start_function(_layout(model), start, random_seed))
        direct = False
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
        return_raw_trace=direct,  # our model's trace is converted by _nutpie_trace
        **nuts_kwargs,
    )
    try:
        trace = sampler.wait()
    except KeyboardInterrupt:
        trace = sampler.abort()
    except BaseException:
        sampler.cancel()
        raise
    sampling_time = time.time() - t_start  # the sampler's own time, conversion apart
    if direct:
        trace = trace_to_tree(trace, list(_DIRECT_NAMES), k, sampler._settings.as_dict())
    _attach_data(trace, model, y, sampling_time=sampling_time)
    return trace


def _compiled_graph(model: pm.Model, initial_point: Callable[[Any], np.ndarray]) -> Any:
    """Return nutpie's compiled graph of ``model``, compiled once per model object."""
    import nutpie

    compiled = _COMPILED.get(model)
    if compiled is None:
        compiled = nutpie.compile_pymc_model(model, jitter_rvs=set())
        _COMPILED[model] = compiled
    else:
        compiled = compiled.with_data(**_shared_values(model))
    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    return dataclasses.replace(compiled, initial_point_func=initial_point, _coords=coords)


def _attach_data(
    idata: xr.DataTree, model: pm.Model | None, y: np.ndarray, sampling_time: float
) -> None:
    """Add what ``pm.sample`` would: data groups and the posterior's timing attrs."""
    from pymc.backends.arviz import patch_nutpie_idata

    if model is not None:
        patch_nutpie_idata(idata, model, sampling_time=sampling_time)
        return
    # the same groups and attrs as patch_nutpie_idata makes from build_model(y, spec)
    data_attrs = library_attrs("pymc", sample_dims=[])
    idata["constant_data"] = xr.DataTree(xr.Dataset(attrs=dict(data_attrs)))
    observed = xr.Dataset(
        {"y": ("obs", y)}, coords={"obs": np.arange(y.size)}, attrs=dict(data_attrs)
    )
    idata["observed_data"] = xr.DataTree(observed)
    settings = json.loads(idata["sample_stats"].attrs["inference_library_settings"])
    attrs = {"sampling_time": sampling_time, "tuning_steps": settings["settings"]["num_tune"]}
    idata["posterior"].attrs.update(library_attrs("nutpie", attrs))


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


def _standard_structure(k: int, model: pm.Model) -> tuple[Any, ...]:
    """Return the structure ``build_model`` gives for K = k, with the model's sigma family."""
    sigma_rv = next((rv for rv in model.free_RVs if rv.name == "sigma_z"), None)
    family = type(sigma_rv.owner.op).__name__ if sigma_rv is not None else ""
    free = [
        ("mu_z", "NormalRV", "Ordered" if k > 1 else "NoneType"),
        ("sigma_z", family, "LogTransform"),
    ]
    if k > 1:
        free.insert(0, ("weights", "DirichletRV", "SimplexTransform"))
    observed = (("y", "CustomDist_y" if k > 1 else "NormalRV"),)
    deterministics = ("weights", "mu", "sigma") if k == 1 else ("mu", "sigma")
    return (tuple(free), observed, deterministics, (), k)


_FAMILY_OF_OP = {"HalfNormalRV": "halfnormal", "GammaRV": "gamma", "InvGammaRV": "invgamma"}


def _direct_model(
    shared: dict[str, np.ndarray],
    k: int,
    family: int,
    initial_point: Callable[[Any], np.ndarray],
) -> Any:
    """Nutpie model on the C callbacks of :mod:`bayesmix._posterior`: no graph compilation.

    It is nutpie's own container for compiled PyMC models, given our callbacks, so that
    nuts-rs calls them from its threads without the GIL. ``shared``: the model's shared
    values by name; ``family``: a :data:`bayesmix._posterior.FAMILY_CODES` value.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    from bayesmix._posterior import callback_data, expand_callback, logp_callback

    header, y, params = callback_data(
        shared[SHARED_OBSERVED], shared[SHARED_STANDARDISE], shared[SHARED_PRIORS],
        shared.get(SHARED_ALPHA, np.ones(k)), family,
    )  # fmt: skip
    names = list(_DIRECT_NAMES)
    slices = [slice(i * k, (i + 1) * k) for i in range(len(names))]
    return CompiledPyMCModel(
        dims={name: ("component",) for name in names},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=initial_point,
        shared_data={"y": y, "params": params},  # what the header points to: keep alive
        shared_var_keys={},
        user_data=header,
        n_expanded=k * len(names),
        shape_info=(names, slices, [(k,)] * len(names)),
        logp_func=None,
        expand_func=None,
        _n_dim=3 * k - 1 if k > 1 else 2,
        _shapes={name: (k,) for name in names},
        _coords={"component": np.arange(k)},
    )
