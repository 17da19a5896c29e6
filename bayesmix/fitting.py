"""Sampling: settings, ``sample`` (model to DataTree) and ``fit`` (data to result)."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import numbers
import os
import platform
import sys
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import pymc as pm
import xarray as xr

from bayesmix.data import as_observations, check_n_components
from bayesmix.loglik import lazy_log_likelihood_dataset, log_likelihood_dataset
from bayesmix.model import build_model, start_values
from bayesmix.nutpie_sampler import sample_nutpie
from bayesmix.result import MixtureResult
from bayesmix.spec import FamilyName, MixtureSpec, Priors
from bayesmix.starts import StartValues
from bayesmix.stray import consensus_start, record_rerun, splice_chains

__all__ = [
    "SAMPLERS",
    "SamplerSettings",
    "SamplingError",
    "fit",
    "log_likelihood_dataset",
    "sample",
]

Sampler = Literal["auto", "pymc", "nutpie", "numpyro", "blackjax"]
SAMPLERS: tuple[str, ...] = ("auto", "pymc", "nutpie", "numpyro", "blackjax")
#: Python module each optional sampler needs.
_SAMPLER_MODULE = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}
#: JAX-based samplers: they sample the model's pointwise form (pm.Mixture), since the
#: fused likelihood is a numba kernel.
_JAX_SAMPLERS = ("numpyro", "blackjax")


#: Largest chains x draws x N for which a fit has the pointwise log-likelihood group: 80 MB
#: of float64, N <= 2,500 at 4 x 1000 draws. The group is computed when first read (see
#: bayesmix.loglik) and then held; above the limit it is left out, so that reading the
#: tree never allocates more (at N = 10^4: 320 MB, ~0.5 s); LOO derives what it needs.
LOG_LIK_STORE_MAX_VALUES = 10_000_000
#: Largest pointwise log-likelihood derived in one piece on demand (400 MB), as bm.compare
#: does for PSIS-LOO with moment matching; above it, LOO runs block by block.
LOG_LIK_MAX_VALUES = 50_000_000


class SamplingError(RuntimeError):
    """The sampler could not run (e.g. no valid start); the message says what to try."""


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def resolve_sampler(sampler: str) -> str:
    """Return the concrete sampler for ``sampler``, checking that it is installed."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not one of {list(SAMPLERS)}")
    if sampler == "auto":
        return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"
    module = _SAMPLER_MODULE.get(sampler)
    if module is not None and importlib.util.find_spec(module) is None:
        raise ImportError(
            f"sampler={sampler!r} needs the package {module!r}, which is not installed; "
            "install it with `pip install 'bayesmix[fast]'` (numpyro, blackjax) or "
            "`pip install nutpie`, or use sampler='pymc'"
        )
    return sampler


@dataclass(frozen=True)
class SamplerSettings:
    """How the posterior was sampled; recorded with every fit.

    Parameters
    ----------
    draws, tune, chains : int
        Post-tuning draws per chain, tuning steps per chain, number of chains.
    target_accept : float
        NUTS target acceptance rate, in (0, 1).
    random_seed : int
        The seed actually used (drawn from the OS if the user gave none).
    sampler : str
        The concrete sampler: "pymc", "nutpie" or "numpyro".
    cores : int or None
        Chains run in parallel on this many cores (None: PyMC's default).
    """

    draws: int
    tune: int
    chains: int
    target_accept: float
    random_seed: int
    sampler: str
    cores: int | None = None

    def __post_init__(self) -> None:
        _positive_int("draws", self.draws)
        _positive_int("chains", self.chains)
        if isinstance(self.tune, bool) or not isinstance(self.tune, numbers.Integral):
            raise ValueError(f"tune={self.tune!r} must be a non-negative integer")
        if self.tune < 0:
            raise ValueError(f"tune={self.tune!r} must be a non-negative integer")
        if not 0.0 < float(self.target_accept) < 1.0:
            raise ValueError(f"target_accept={self.target_accept!r} must lie in (0, 1)")
        if self.cores is not None:
            _positive_int("cores", self.cores)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain, JSON-serialisable data."""
        return asdict(self)


def _seed(random_seed: int | None) -> int:
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, numbers.Integral):
        raise TypeError(f"random_seed={random_seed!r} must be an integer or None")
    if random_seed < 0:
        raise ValueError(f"random_seed={random_seed!r} must be non-negative")
    return int(random_seed)


def data_fingerprint(y: np.ndarray) -> str:
    """SHA-256 of the float64 bytes of the observations."""
    return hashlib.sha256(np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest()


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
    with a small jitter (:mod:`bayesmix.starts`), so that chains begin in the posterior's
    main mode. The returned tree has groups ``posterior``, ``sample_stats``,
    ``log_likelihood`` (computed when first read, see :mod:`bayesmix.loglik`; left out
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
        _attach_log_likelihood(idata, y, spec)
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


def _attach_log_likelihood(idata: xr.DataTree, y: np.ndarray, spec: MixtureSpec) -> None:
    """Add the pointwise log-likelihood group, computed when first read (bayesmix.loglik).

    Left out above LOG_LIK_STORE_MAX_VALUES: once read, it would be held in memory.
    """
    posterior = idata["posterior"].to_dataset()
    if posterior.sizes["chain"] * posterior.sizes["draw"] * y.size <= LOG_LIK_STORE_MAX_VALUES:
        idata["log_likelihood"] = xr.DataTree(
            lazy_log_likelihood_dataset(posterior, y, spec.family)
        )


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a fit depends on."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Read once per process: importlib.metadata scans site-packages (~10 ms a call)."""
    out = {"python": platform.python_version()}
    for name in (
        "bayesmix",
        "pymc",
        "pytensor",
        "arviz",
        "arviz-base",
        "arviz-stats",
        "numpy",
        "scipy",
        "xarray",
        "nutpie",
        "numpyro",
        "jax",
    ):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def fit(
    data: Any,
    n_components: int | Literal["auto"] = 2,
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
    **sample_kwargs: Any,
) -> MixtureResult:
    """Fit a Bayesian finite mixture by NUTS.

    Parameters
    ----------
    data : array_like
        Observations: a list, NumPy array, pandas Series or one-column DataFrame, or
        xarray DataArray of finite real numbers.
    n_components : int or "auto", default 2
        Number of components K; at most the number of observations. "auto" fits every K
        in ``bayesmix.comparison.AUTO_COMPONENTS`` (1 to 6) with these options and returns
        the one :func:`bayesmix.compare` selects by PSIS-LOO (see its selection rule).
    family : {"normal", "student_t"}, default "normal"
        Component family (:mod:`bayesmix.families`): normal components, or Student-t
        components with their own degrees of freedom ``nu``, robust to outliers.
    priors : Priors or dict, optional
        Prior overrides; anything left unset is scaled to the data (see :class:`Priors`).
    draws, tune : int, default 1000
        Post-tuning draws and tuning steps per chain.
    chains : int, default 4
        Number of chains; at least 2 are needed to check convergence.
    cores : int, optional
        Cores to run chains on in parallel (default: one per chain, up to the CPUs).
    target_accept : float, default 0.9
        NUTS target acceptance rate; raise it (e.g. 0.99) if there are divergences.
    random_seed : int, optional
        Seed for the starts and the sampler; the same seed gives the same draws. If None,
        a seed is drawn and recorded in the result.
    sampler : {"auto", "pymc", "nutpie", "numpyro", "blackjax"}, default "auto"
        NUTS implementation. "auto" picks nutpie (a core dependency; the fastest at
        every N measured in ``benchmarks/README.md``) and falls back to PyMC's own if
        nutpie cannot be imported. numpyro and blackjax need ``bayesmix[fast]``. The
        sampler used is recorded in ``res.idata.attrs["bayesmix_sampler_settings"]``.
    progressbar : bool, default True
        Show the sampler's progress bar.
    rerun_stray : bool, default True
        Rerun, once, each chain that settled in a different mode from the others, from
        the others' consensus and with a new seed (recorded in
        ``res.idata.attrs["bayesmix_reruns"]``; see :mod:`bayesmix.stray`). A chain that
        strays again is reported by a :class:`ConvergenceWarning`.
    **sample_kwargs
        Passed on to :func:`pymc.sample` (e.g. ``nuts_sampler_kwargs``).

    Returns
    -------
    MixtureResult
        The posterior with summaries, densities, memberships, diagnostics and plots.

    Raises
    ------
    TypeError, ValueError
        For invalid data or arguments, with a message saying how to fix them.

    Warns
    -----
    ConvergenceWarning
        One per failed convergence check (r_hat, ESS, divergences, chains in different
        modes), with a remedy.

    See Also
    --------
    build_model : the PyMC model alone.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(500, [0.6, 0.4], [1.0, 5.0], [1.0, 2.0], random_seed=0)
    >>> res = bm.fit(y, n_components=2, random_seed=1, progressbar=False)  # doctest: +SKIP
    >>> res.components  # doctest: +SKIP
    """
    y = as_observations(data)
    if isinstance(n_components, str) and n_components == "auto":
        from bayesmix.comparison import AUTO_COMPONENTS, compare

        candidates = [k for k in AUTO_COMPONENTS if k <= y.size]  # K <= n
        return compare(
            y, candidates, family=family, priors=priors, draws=draws, tune=tune, chains=chains,
            cores=cores, target_accept=target_accept, random_seed=random_seed,
            sampler=sampler, progressbar=progressbar, **sample_kwargs,
        ).best  # fmt: skip
    k = check_n_components(n_components, y.size)
    spec = MixtureSpec.from_data(y, k, priors, family)
    settings = SamplerSettings(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=_seed(random_seed),
        sampler=resolve_sampler(sampler),
        cores=cores,
    )
    # model None: the standard model of spec, which nutpie compiles once per structure;
    # res.model builds it for this data on first access
    idata = sample(None, y, spec, settings, progressbar=progressbar, **sample_kwargs)
    result = MixtureResult(idata)
    stray = result.diagnostics.stray_chains
    if rerun_stray and stray and len(stray) < settings.chains:
        result = _rerun_stray(result, y, spec, settings, stray, progressbar, sample_kwargs)
    result.check_convergence(stacklevel=3)
    return result


def _rerun_stray(
    result: MixtureResult,
    y: np.ndarray,
    spec: MixtureSpec,
    settings: SamplerSettings,
    stray: tuple[int, ...],
    progressbar: bool,
    sample_kwargs: dict[str, Any],
) -> MixtureResult:
    """Rerun the chains in a minor mode from the others' consensus (see bayesmix.stray)."""
    good = [c for c in range(settings.chains) if c not in stray]
    start = consensus_start(result.idata, good, ("weights", *spec.components_family.sampled_names))
    seed = int(np.random.SeedSequence([settings.random_seed, 0x57A7]).generate_state(1)[0])
    rerun_settings = replace(settings, chains=len(stray), random_seed=seed)
    rerun = sample(
        result._model, y, spec, rerun_settings, progressbar=progressbar, start=start,
        **sample_kwargs,
    )  # fmt: skip
    idata = splice_chains(result.idata, rerun, stray)
    _attach_log_likelihood(idata, y, spec)
    record_rerun(idata, stray, seed, start)
    return MixtureResult(idata, model=result._model)
