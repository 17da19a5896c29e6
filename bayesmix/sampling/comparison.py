"""How many components, and which family? Fit each candidate, then score and select.

:func:`compare` fits every K (of every family asked for) with the same options; the
scoring by PSIS-LOO and the selection rule are :class:`~bayesmix.sampling.selection.Comparison`'s.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np

from bayesmix.data.validate import as_observations, check_n_components
from bayesmix.diagnostics.checks import EXTENSION_ATTR, ConvergenceWarning
from bayesmix.families import get_family
from bayesmix.model import FamilyName
from bayesmix.result import MixtureResult
from bayesmix.sampling.engine import as_finished, fit_packed, unpack
from bayesmix.sampling.run import fit_components
from bayesmix.sampling.selection import Comparison, FitKey
from bayesmix.sampling.settings import SamplingError

__all__ = ["AUTO_COMPONENTS", "compare"]

#: Candidate numbers of components for ``compare`` and ``fit(y, n_components="auto")``.
AUTO_COMPONENTS = range(1, 7)
#: Our warnings point at the first caller outside this package.
_SKIP = (os.path.dirname(__file__),)


def _check_ks(n_components: Iterable[Any], n_obs: int) -> list[int]:
    if isinstance(n_components, str) or not isinstance(n_components, Iterable):
        raise TypeError(
            f"n_components={n_components!r} must be a sequence of integers, e.g. range(1, 7)"
        )
    ks = [check_n_components(k, n_obs) for k in n_components]
    if not ks:
        raise ValueError("n_components is empty; pass the candidates, e.g. range(1, 7)")
    if len(set(ks)) != len(ks):
        raise ValueError(f"n_components={ks} holds duplicates; list each K once")
    return sorted(ks)


def _check_families(family: str | Sequence[str]) -> list[str]:
    names = [family] if isinstance(family, str) else list(family)
    if not names:
        raise ValueError("family is empty; pass a family or several, e.g. ['normal', 'student_t']")
    for name in names:
        get_family(name)
    if len(set(names)) != len(names):
        raise ValueError(f"family={names} holds duplicates; list each family once")
    return names


def compare(
    data: Any,
    n_components: Iterable[int] = AUTO_COMPONENTS,
    *,
    family: str | Sequence[str] = "normal",
    moment_match: bool = True,
    progressbar: bool = True,
    client: Any = None,
    **fit_options: Any,
) -> Comparison:
    """Fit a mixture for each number of components (and family) and choose by PSIS-LOO.

    Each candidate is fitted by :func:`bayesmix.fit` with the same options (the same
    ``random_seed`` too, if given) and scored by :func:`arviz_stats.loo` on its pointwise
    log-likelihood. Observations with Pareto k > 0.7 are retried by moment matching
    (:func:`arviz_stats.loo_moment_match` on the fit's PyMC model).

    **Selection rule.** Every fit first samples to the ESS target (``ess_target``,
    default 400: a fit that only needs more draws gets them, up to ``max_draws``; see
    :func:`bayesmix.fit`). The *eligible* fits are the converged ones and those whose
    only failed check is still ESS after that extension (flagged in the table and by a
    warning: their intervals are less precise, their ELPD is still an estimate of the
    same thing). A fit whose chains disagree (r_hat, rank test, chains in different
    modes) or that diverged is never eligible. The reference is the eligible fit with
    the highest ELPD. The selected fit is the simplest eligible one (fewest free
    parameters, the table's ``n_parameters``; within one family, the smallest K) whose
    ELPD is within one standard error of the difference of the reference's:
    ``elpd_diff >= -dse``. A component, or a family's extra parameter, is only added
    if it clearly improves predictions. If no fit is eligible, the rule is applied to
    all fits and the choice is flagged as unreliable (a warning and the repr say so).
    The cases, with examples, are in ``docs/choosing_k.md``.

    Parameters
    ----------
    data : array_like
        The observations, as for :func:`bayesmix.fit` (validated once).
    n_components : iterable of int, default range(1, 7)
        The candidate numbers of components.
    family : str or sequence of str, default "normal"
        The component families to fit (:mod:`bayesmix.families`), each at every K.
        With more than one, fits are keyed by ``(family, K)`` and the table's index has
        both levels: ``family=["normal", "student_t"]`` asks whether outliers or heavy
        tails need Student-t components or extra normal ones.
    moment_match : bool, default True
        Retry observations with Pareto k > 0.7 by moment matching.
    progressbar : bool, default True
        Print one line per fit to stderr when it is done (samplers' own bars are off).
    client : distributed.Client, optional
        Run the fits as tasks on this dask cluster (the machinery of
        :func:`bayesmix.fit_many`), all at once, instead of one after another here.
        Each fit then runs its chains on one core (``cores=1`` unless given), so the
        fits do not oversubscribe the workers; the draws are those of the serial run
        with the same options. ``distributed.Client(processes=False)`` is a cluster of
        this machine's cores in this process.
    **fit_options
        Passed to :func:`bayesmix.fit` for every fit: ``draws``, ``tune``, ``chains``,
        ``random_seed``, ``priors``, ``sampler``, ...

    Returns
    -------
    Comparison
        ``table``, ``best``, ``best_k``, ``best_family``, ``fits``, ``elpd`` and
        ``plot()``.

    Raises
    ------
    TypeError, ValueError
        For invalid data, candidates, families or options, or if no fit could be scored.
    SamplingError
        If the sampler failed for every fit (a fit where it fails is left out, with a
        warning).

    Warns
    -----
    ConvergenceWarning
        One per unconverged fit (its failed checks, gathered), one more if none converged,
        and one per fit where the sampler failed.
    ComponentWarning
        One per fit with empty or collapsed components (common when K is too large).
    LOOWarning
        One per fit with Pareto k > 0.7 after moment matching, or that PSIS-LOO failed.

    See Also
    --------
    Comparison.from_fits : the same for fits you already have.
    arviz_stats.loo_kfold : exact k-fold cross-validation, when Pareto k stays high.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(500, [0.5, 0.5], [0.0, 5.0], [1.0, 1.0], random_seed=0)
    >>> cmp = bm.compare(y, [1, 2, 3], random_seed=1)  # doctest: +SKIP
    >>> cmp.best_k, cmp.table  # doctest: +SKIP
    >>> cmp.plot()  # doctest: +SKIP
    >>> both = bm.compare(y, [1, 2], family=["normal", "student_t"])  # doctest: +SKIP
    >>> both.best_family, both.best_k  # doctest: +SKIP
    """
    y = as_observations(data)
    ks = _check_ks(n_components, y.size)
    families = _check_families(family)
    keys: list[FitKey] = [k if len(families) == 1 else (f, k) for f in families for k in ks]
    if client is None:
        fitted = {
            key: _fit_one(y, key, families[0], f"{i}/{len(keys)}", progressbar, fit_options)
            for i, key in enumerate(keys, 1)
        }
    else:
        fitted = _fit_on(client, y, keys, families[0], progressbar, fit_options)
    fits = {key: res for key, res in fitted.items() if res is not None}
    if not fits:
        raise SamplingError(f"sampling failed for every fit ({_what(keys)}); see the warnings")
    return Comparison.from_fits(fits, moment_match=moment_match)


def _what(keys: list[FitKey]) -> str:
    if all(isinstance(key, int) for key in keys):
        return f"K in {keys}"
    return ", ".join(f"{f} K={k}" for f, k in keys)  # type: ignore[misc]


def _key_of(key: FitKey, family: str) -> tuple[str, int, str]:
    """Return family, K and the label printed for a candidate."""
    family, k = (family, key) if isinstance(key, int) else key
    return family, k, f"K={k}" if isinstance(key, int) else f"{family} K={k}"


def _compare_task(y: np.ndarray, family: str, k: int, options: dict[str, Any]) -> dict[str, Any]:
    """One candidate on a worker: the packed fit, or the sampler's failure as a message."""
    try:
        return {"status": "ok", **fit_packed(y, k, {**options, "family": family})}
    except SamplingError as err:
        return {"status": "failed", "error": str(err)}


def _fit_on(
    client: Any,
    y: np.ndarray,
    keys: list[FitKey],
    family: str,
    progressbar: bool,
    fit_options: dict[str, Any],
) -> dict[FitKey, MixtureResult | None]:
    """Fit every candidate as a task on ``client``; collect them as they finish."""
    options = {"cores": 1, **fit_options}
    labels = {_key_of(key, family)[2]: key for key in keys}
    tasks = {
        label: (_compare_task, (y, *_key_of(key, family)[:2], options))
        for label, key in labels.items()
    }
    fitted: dict[FitKey, MixtureResult | None] = {}
    for i, (label, answer, error) in enumerate(
        as_finished(client, tasks, retry=1, label="compare"), 1
    ):
        if error is not None:
            raise error  # bad options or data fail as they would here
        result = unpack(answer) if answer["status"] == "ok" else None
        failure = "" if result is not None else answer["error"]
        _finished(label, result, failure, f"{i}/{len(keys)}", answer.get("seconds", 0.0),
                  progressbar)  # fmt: skip
        fitted[labels[label]] = result
    return {key: fitted[key] for key in keys}


def _finished(
    label: str,
    result: MixtureResult | None,
    failure: str,
    step: str,
    took: float,
    progressbar: bool,
) -> None:
    """Warn if the sampler failed; print the candidate's verdict."""
    if failure:
        warnings.warn(
            f"{label}: {failure}; this fit is left out of the comparison",
            ConvergenceWarning,
            skip_file_prefixes=_SKIP,
        )
    if progressbar:
        state = None if result is None else result.converged
        verdict = {None: "sampling FAILED", True: "converged", False: "NOT converged"}[state]
        if result is not None and EXTENSION_ATTR in result.idata.attrs:
            draws = result.idata["posterior"].sizes["draw"]
            verdict += f" (chains continued to {draws} draws for the ESS target)"
        print(f"bayesmix.compare: {label} ({step}) {verdict}, {took:.1f} s", file=sys.stderr)


def _fit_one(
    y: np.ndarray,
    key: FitKey,
    family: str,
    step: str,
    progressbar: bool,
    fit_options: dict[str, Any],
) -> MixtureResult | None:
    """Fit one candidate; None (with a warning) if the sampler fails, so the others run."""
    family, k, label = _key_of(key, family)
    start, failure = time.perf_counter(), ""
    try:  # the fit's convergence warnings: once per fit and kind, by from_fits
        result: MixtureResult | None = fit_components(
            y, k, family=cast(FamilyName, family), progressbar=False, warn=False, **fit_options
        )
    except SamplingError as err:
        result, failure = None, str(err)
    _finished(label, result, failure, step, time.perf_counter() - start, progressbar)
    return result
