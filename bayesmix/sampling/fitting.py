"""``fit``: data in, a fitted mixture out (the package's front door)."""

from __future__ import annotations

from typing import Any, Literal

from bayesmix.data import as_observations
from bayesmix.model import FamilyName, Priors
from bayesmix.result import MixtureResult
from bayesmix.sampling.comparison import AUTO_COMPONENTS, compare
from bayesmix.sampling.run import fit_components
from bayesmix.sampling.settings import Sampler

__all__ = ["fit"]


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
    ess_target: float | None = 400,
    max_draws: int | None = None,
    max_time: float | None = None,
    explore: bool = False,
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
        ``res.idata.attrs["bayesmix_reruns"]``; see :mod:`bayesmix.sampling.stray`). A chain that
        strays again is reported by a :class:`ConvergenceWarning`.
    ess_target : float or None, default 400
        Sample until every quantity's bulk and tail ESS reach this. A fit whose chains
        agree (no stray chain, rank test passed, r_hat at most 1.05) and saw no
        divergence, but whose ESS falls short, has its chains continued: the same seed
        and more draws per chain (nutpie repeats the shorter run's draws and goes on),
        until the target is met or the budget runs out; recorded in
        ``res.idata.attrs["bayesmix_extension"]`` and the report (see
        :mod:`bayesmix.sampling.extend`). A fit failing any other check is not
        extended. None turns this off. The convergence check itself asks for 400
        whatever the target.
    max_draws : int, optional
        Budget of the extension: post-tuning draws over all chains (default: four times
        ``draws * chains``).
    max_time : float, optional
        Stop extending after this many seconds (no further round starts). A time budget
        makes the result depend on the machine's speed: prefer ``max_draws`` for
        reproducible fits.
    explore : bool, default False
        Look for the posterior's other modes, which chains started at the k-means
        solution never visit: NUTS chains from the distinct optima of EM from 20
        random starts, grouped by mode and weighed by importance sampling (see
        :mod:`bayesmix.sampling.explore`). The modes and their masses are in
        ``res.modes``; if another mode holds more mass than the fit's, the fit is
        sampled again there, and if other modes hold more than 5% of the mass the
        fit is reported as describing one mode only. Costs two chains per optimum.
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
        candidates = [k for k in AUTO_COMPONENTS if k <= y.size]  # K <= n
        return compare(
            y, candidates, family=family, priors=priors, draws=draws, tune=tune, chains=chains,
            cores=cores, target_accept=target_accept, random_seed=random_seed,
            sampler=sampler, progressbar=progressbar, ess_target=ess_target,
            max_draws=max_draws, max_time=max_time, explore=explore, **sample_kwargs,
        ).best  # fmt: skip
    return fit_components(
        y, n_components, family=family, priors=priors, draws=draws, tune=tune,
        chains=chains, cores=cores, target_accept=target_accept, random_seed=random_seed,
        sampler=sampler, progressbar=progressbar, rerun_stray=rerun_stray,
        ess_target=ess_target, max_draws=max_draws, max_time=max_time, explore=explore,
        **sample_kwargs,
    )  # fmt: skip
