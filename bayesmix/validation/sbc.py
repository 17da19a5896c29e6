"""Simulation-based calibration (SBC; Talts et al. 2018, arXiv:1804.06788) of ``bm.fit``.

Each replication draws (weights, mu, sigma) from the prior, simulates ``n_obs`` points
with :func:`bayesmix.simulate_mixture`, fits them with :func:`bayesmix.fit` under the same
priors, thins the posterior to ``n_thin`` draws and records the rank of every true value
among them. If priors, model, starts and sampler are right, each rank is uniform on
``{0, ..., n_thin}``. Run ``python -m bayesmix.validation.sbc --help``.

- **Fixed priors.** Default priors are resolved from the data's mean and sd, so the
  "prior" would depend on the data and SBC would be invalid; every prior here is a
  number. The model samples ``mu_z = (mu - loc) / scale`` (``loc``, ``scale``: the data's
  mean and sd) under the prior transformed to match, an exact reparametrisation, so SBC
  tests it too. The ordered-normal prior is the law of sorted iid normals.
- **n_obs = 100**: few enough that the prior still shapes the posterior (with very many
  observations SBC only sees the likelihood); many enough for K = 3.
- **Thinning**: ``n_thin = 99`` draws evenly spaced over the pooled chains (every ~10th of
  2 x 500), so ranks take 100 values (10 equal bins). Bulk and tail ESS of every fit are
  recorded: where ESS >= ``n_thin``, the kept draws are close to independent.
- **Every fit counts**, warnings or not: dropping fits by a data-dependent rule would
  bias the ranks. Convergence warnings and divergences are counted instead.
- **Tests**: chi-square on the binned ranks per parameter at the 1% level, and ArviZ's
  PIT-ECDF test (``pot_c``) on randomised PITs ``(rank + U) / (n_thin + 1)``, exactly
  U(0, 1) under calibration.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymc.pytensorf import compile as compile_pymc
from pymc.pytensorf import find_rng_nodes, reseed_rngs
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import ancestors

from bayesmix.data import as_observations
from bayesmix.data.provenance import package_versions
from bayesmix.families import get_family
from bayesmix.model.build import build_model, shared_values, standardisation
from bayesmix.model.simulate import simulate_mixture
from bayesmix.model.spec import FamilyName, MixtureSpec, Priors
from bayesmix.sampling import Sampler, SamplingError
from bayesmix.sampling.engine import as_finished, cluster_client, distributed_or_error
from bayesmix.sampling.run import fit_components
from bayesmix.validation.ranks import plot_ecdf_pit, plot_rank_histograms, ranks, thin, uniformity

__all__ = ["DEFAULT_PRIORS", "SBCConfig", "draw_prior", "main", "rank_table", "run_sbc"]

#: Fixed priors of the SBC runs (on the scale of the simulated data).
DEFAULT_PRIORS = Priors(weights_concentration=1.0, mu_loc=0.0, mu_scale=2.0, sigma_scale=1.0)


@dataclass(frozen=True)
class SBCConfig:
    """One SBC experiment: what is simulated and how it is fitted.

    Parameters
    ----------
    n_components : int, default 2
        Number of components K (>= 2) of both the simulation and the fit.
    n_obs : int, default 100
        Observations per simulated data set.
    priors : Priors, default DEFAULT_PRIORS
        Fixed (fully numeric) priors of the fit, and of the simulation unless
        ``simulation_priors`` is given.
    simulation_priors : Priors, optional
        Priors to draw the truth from; a value different from ``priors`` is a deliberately
        miscalibrated experiment, which SBC should detect.
    draws, tune, chains : int, default 500, 500, 2
        Sampler settings of every fit.
    n_thin : int, default 99
        Posterior draws kept per fit; ranks lie in ``0..n_thin``.
    sampler : str, default "auto"
        NUTS implementation passed to :func:`bayesmix.fit`.
    cores : int or None, default 1
        Cores per fit. 1 runs chains in sequence: parallelise replications instead.
    family : {"normal", "student_t"}, default "normal"
        Component family of the simulation and the fit.
    ess_target : float or None, default None
        Passed to the fit: None (the default here) samples exactly ``draws`` per chain,
        as the calibration runs in docs/validation.md did; a number lets each fit
        continue its chains to that ESS, as ``bm.fit`` does by default.
    """

    n_components: int = 2
    n_obs: int = 100
    priors: Priors = DEFAULT_PRIORS
    simulation_priors: Priors | None = None
    draws: int = 500
    tune: int = 500
    chains: int = 2
    n_thin: int = 99
    sampler: Sampler = "auto"
    cores: int | None = 1
    family: FamilyName = "normal"
    ess_target: float | None = None

    def __post_init__(self) -> None:
        if self.n_components < 2:
            raise ValueError(f"n_components={self.n_components} must be >= 2 for SBC")
        for name in ("priors", "simulation_priors"):
            p = getattr(self, name)
            if p is not None and not p.is_resolved:
                # nu's prior has data-free defaults: only the location-scale ones matter
                raise ValueError(
                    f"{name}={p!r} must be fully numeric: data-resolved priors make SBC "
                    "invalid; give mu_loc, mu_scale and sigma_scale"
                )
        if not 1 <= self.n_thin <= self.draws * self.chains:
            raise ValueError(f"n_thin={self.n_thin} must lie in 1..draws*chains")

    @property
    def parameters(self) -> list[str]:
        """Names of the ranked parameters, e.g. ``weights[0]``, as in ``res.summary()``."""
        return [f"{p}[{k}]" for p in self.ranked for k in range(self.n_components)]

    @property
    def ranked(self) -> tuple[str, ...]:
        """The ranked variables: ``weights`` and the family's parameters."""
        return ("weights", *get_family(self.family).names)


def draw_prior(
    n_components: int, priors: Priors, rng: np.random.Generator, family: str = "normal"
) -> dict[str, Any]:
    """Draw one truth from the prior of the model that :func:`bayesmix.fit` samples.

    The draws come from the PyMC model itself (``pm.draw`` of its free variables), so
    SBC tests the priors that are sampled, not a copy of them. The ordered-normal prior
    of the means is the law of sorted iid normals, so ``mu_z`` is sorted.

    Parameters
    ----------
    n_components : int
        Number of components K.
    priors : Priors
        Fully numeric priors (no ``None``).
    rng : numpy.random.Generator
        Source of randomness.
    family : {"normal", "student_t"}, default "normal"
        Component family.

    Returns
    -------
    dict of str to numpy.ndarray
        ``weights`` and the family's parameters on the data's scale, each of shape (K,).
    """
    if not priors.is_resolved:
        raise ValueError(f"priors={priors!r} must be fully numeric (no None)")
    fam = get_family(family)
    spec = MixtureSpec(n_components, priors.resolve(_PRIOR_DATA, family), family)  # type: ignore[arg-type]
    names = ["weights", *fam.sampled_names]
    with _PRIOR_LOCK:  # set priors, reseed, draw: one replication at a time per process
        draw, shared = _prior_sampler(n_components, family, priors.sigma_prior)
        for name, value in shared_values(_PRIOR_DATA, spec).items():
            if name in shared:
                shared[name].set_value(value)
        reseed_rngs(find_rng_nodes(draw.maker.fgraph.outputs), int(rng.integers(2**63)))
        values = [np.array(v, dtype=np.float64) for v in draw()]
    draws = dict(zip(names, values, strict=True))
    draws["mu_z"] = np.sort(draws["mu_z"])
    loc, scale = standardisation(_PRIOR_DATA)
    truth = {"weights": draws["weights"]}
    for q in fam.parameters:
        truth[q.name] = np.asarray(q.to_data(draws[q.sampled_name], loc, scale))
    return truth


#: The compiled prior draws hold state (priors, RNG): replications in threads take turns.
_PRIOR_LOCK = threading.Lock()
#: Any data will do for prior draws: fixed priors do not depend on them, and the
#: standardisation the model samples under is undone by draw_prior.
_PRIOR_DATA = np.linspace(-1.0, 1.0, 101)


@functools.cache
def _prior_sampler(k: int, family: str, sigma_prior: str) -> tuple[Any, dict[str, Any]]:
    """Compile the model's prior draws of weights and sampled parameters, once per key.

    Returns the function and the model's shared variables by name (the priors enter
    through them, so one function serves every prior).
    """
    priors = Priors(sigma_prior=sigma_prior)  # type: ignore[arg-type]
    spec = MixtureSpec(k, priors.resolve(_PRIOR_DATA, family), family)  # type: ignore[arg-type]
    model = build_model(_PRIOR_DATA, spec)
    names = ["weights", *get_family(family).sampled_names]
    outputs = [model[name] for name in names]
    shared = {
        v.name: v
        for v in ancestors(outputs)
        if isinstance(v, SharedVariable) and v.name is not None
    }
    return compile_pymc([], outputs), shared


def replicate(rep: int, seed: int, config: SBCConfig) -> dict[str, Any]:
    """Run replication ``rep`` (see :func:`run_sbc`), counting warnings, not issuing them."""
    data_seq, fit_seq = np.random.SeedSequence([seed, rep]).spawn(2)
    rng = np.random.default_rng(data_seq)
    k = config.n_components
    truth = draw_prior(k, config.simulation_priors or config.priors, rng, config.family)
    extra = {"nu": truth["nu"]} if "nu" in truth else {}
    y = as_observations(simulate_mixture(
        config.n_obs, truth["weights"], truth["mu"], truth["sigma"], rng,
        family=config.family, **extra,
    ))  # fmt: skip
    row: dict[str, Any] = {"rep": rep, "fit_seed": int(fit_seq.generate_state(1)[0])}
    row.update({f"true_{p}[{j}]": truth[p][j] for p in config.ranked for j in range(k)})
    fields = ("draws", "tune", "chains", "cores", "sampler", "ess_target")
    options = {f: getattr(config, f) for f in fields}
    start = time.perf_counter()
    try:  # warn=False: the verdict is counted from the diagnostics, safe in threads
        res = fit_components(y, k, family=config.family, priors=config.priors,
                             random_seed=row["fit_seed"], progressbar=False, warn=False,
                             **options)  # fmt: skip
    except SamplingError as err:
        return {**row, "error": str(err), "seconds": time.perf_counter() - start}
    for p in config.ranked:
        r = ranks(truth[p], thin(res.draws[p], config.n_thin))
        row.update({f"rank_{p}[{j}]": int(r[j]) for j in range(k)})
    diag = res.diagnostics
    table = diag.table.loc[config.parameters]
    return {
        **row,
        "error": "",
        "seconds": time.perf_counter() - start,
        "divergences": diag.divergences,
        "stray_chains": len(diag.stray_chains),
        "converged": diag.converged,
        "convergence_warnings": len(diag.problems),
        "component_warnings": len(diag.component_issues),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "min_ess_tail": float(table["ess_tail"].min()),
        "max_r_hat": float(table["r_hat"].max()),
    }


def run_sbc(
    config: SBCConfig,
    reps: int,
    seed: int = 0,
    jobs: int = 1,
    csv: Path | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Run ``reps`` replications of an SBC experiment.

    Parameters
    ----------
    config : SBCConfig
        The experiment.
    reps : int
        Number of replications.
    seed : int, default 0
        Master seed; replication ``r`` is seeded by ``(seed, r)`` alone, so results do not
        depend on ``jobs``.
    jobs : int, default 1
        Replications run at once. Above 1 they run on dask.distributed (the machinery
        of :func:`bayesmix.fit_many`), on a ``LocalCluster`` of ``jobs`` threads.
    csv : pathlib.Path, optional
        Where to rewrite the rows done so far after every replication.
    client : distributed.Client, optional
        Run the replications on this dask cluster instead (``jobs`` is then ignored).

    Returns
    -------
    pandas.DataFrame
        One row per replication (sorted by ``rep``): truth ``true_*``, ranks ``rank_*``,
        ``error`` (empty unless sampling failed), seconds, divergences, warning counts,
        smallest bulk and tail ESS and largest r_hat over the ranked parameters.
    """
    rows: list[dict[str, Any]] = []

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        print(
            f"rep {row['rep']} done ({len(rows)}/{reps}) in {row['seconds']:.1f} s "
            f"{row['error'][:80]}",
            file=sys.stderr,
            flush=True,
        )
        if csv is not None:
            pd.DataFrame(rows).sort_values("rep").to_csv(csv, index=False)

    if jobs == 1 and client is None:
        for rep in range(reps):
            done(replicate(rep, seed, config))
    else:
        tasks = {str(r): (replicate, (r, seed, config)) for r in range(reps)}
        with cluster_client(client, jobs, False, "SBC", progressbar=True) as c:
            for name, row, error in as_finished(c, tasks, label="sbc"):
                # a replication that raised (not a sampling error: that is its row) or
                # lost its worker is recorded as failed, never dropped silently
                done(row if error is None else
                     {"rep": int(name), "error": f"{type(error).__name__}: {error}",
                      "seconds": float("nan")})  # fmt: skip
    return pd.DataFrame(rows).sort_values("rep").reset_index(drop=True)


def rank_table(df: pd.DataFrame, config: SBCConfig) -> pd.DataFrame:
    """Return the ranks of the fits that ran, one column per parameter (e.g. ``mu[0]``)."""
    ok = df[df["error"] == ""]
    return ok[[f"rank_{p}" for p in config.parameters]].set_axis(config.parameters, axis=1)


def summarise(df: pd.DataFrame, config: SBCConfig) -> dict[str, Any]:
    """Count failed fits, warnings, divergences and low ESS; report the median fit time."""
    ok = df[df["error"] == ""]
    return {
        "replications": len(df),
        "sampling_errors": int((df["error"] != "").sum()),
        "fits_with_convergence_warnings": int((ok["convergence_warnings"] > 0).sum()),
        "fits_with_component_warnings": int((ok["component_warnings"] > 0).sum()),
        "fits_with_divergences": int((ok["divergences"] > 0).sum()),
        "total_divergences": int(ok["divergences"].sum()),
        "fits_with_min_ess_below_n_thin": int(
            (ok[["min_ess_bulk", "min_ess_tail"]].min(axis=1) < config.n_thin).sum()
        ),
        "fits_with_r_hat_above_1.01": int((ok["max_r_hat"] > 1.01).sum()),
        "fits_with_stray_chains": int((ok["stray_chains"] > 0).sum()),
        "median_fit_seconds": float(df["seconds"].median()),
    }


_OPTIONS: tuple[tuple[str, type, Any, str], ...] = (
    ("--k", int, 2, "number of components"),
    ("--reps", int, 200, "replications"),
    ("--seed", int, 0, "master seed; replication r is seeded by (seed, r)"),
    ("--out", Path, Path("sbc-out"), "output folder"),
    ("--jobs", int, 1, "replications at once (above 1: on a dask LocalCluster)"),
    ("--scheduler", str, "", "address of a dask scheduler to run on instead (tcp://...)"),
    ("--n-obs", int, 100, "observations per simulated data set"),
    ("--draws", int, 500, "draws per chain"),
    ("--tune", int, 500, "tuning steps per chain"),
    ("--chains", int, 2, "chains per fit"),
    ("--n-thin", int, 99, "thinned draws kept; ranks lie in 0..n_thin"),
    ("--bins", int, 10, "bins of the chi-square test"),
    ("--sampler", str, "auto", "sampler passed to bm.fit"),
    ("--mu-shift", float, 0.0, "simulate with mu_loc shifted by this (miscalibration)"),
    ("--family", str, "normal", "component family (normal or student_t)"),
    ("--ess-target", float, 0.0, "continue each fit's chains to this ESS (0: off)"),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run SBC, write ranks, tests, summary and figures to ``--out``."""
    ap = argparse.ArgumentParser(
        prog="python -m bayesmix.validation.sbc",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, kind, default, what in _OPTIONS:
        ap.add_argument(flag, type=kind, default=default, help=f"{what} (default {default})")
    a = ap.parse_args(argv)
    sim = dataclasses.replace(DEFAULT_PRIORS, mu_loc=0.0 + a.mu_shift) if a.mu_shift else None
    config = SBCConfig(a.k, a.n_obs, DEFAULT_PRIORS, sim, a.draws, a.tune, a.chains, a.n_thin,
                       a.sampler, family=a.family, ess_target=a.ess_target or None)  # fmt: skip
    a.out.mkdir(parents=True, exist_ok=True)
    prefix = "sbc" if a.family == "normal" else f"sbc_{a.family}"
    stem = a.out / (f"{prefix}_k{a.k}" + (f"_shift{a.mu_shift:g}" if a.mu_shift else ""))
    start = time.perf_counter()
    csv = Path(f"{stem}_ranks.csv")
    if a.scheduler:
        distributed = distributed_or_error("SBC on a scheduler")
        with distributed.Client(a.scheduler) as client:
            df = run_sbc(config, a.reps, a.seed, csv=csv, client=client)
    else:
        df = run_sbc(config, a.reps, a.seed, a.jobs, csv=csv)
    seconds = time.perf_counter() - start
    ranked = rank_table(df, config)
    table = uniformity(ranked, config.n_thin, a.bins)
    table.to_csv(f"{stem}_uniformity.csv")
    plot_rank_histograms(ranked, config.n_thin, Path(f"{stem}_ranks.png"), a.bins, a.k)
    plot_ecdf_pit(ranked, config.n_thin, Path(f"{stem}_ecdf_pit.png"), a.k)
    summary = {
        "command": "python -m bayesmix.validation.sbc "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "config": {
            **dataclasses.asdict(config),
            "jobs": a.jobs,
            "seed": a.seed,
            "scheduler": a.scheduler,
        },
        "wall_seconds": seconds,
        **summarise(df, config),
        "all_passed": bool(table["passed"].all()),
        "versions": package_versions(),
    }
    Path(f"{stem}_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    print(json.dumps({k: v for k, v in summary.items() if k != "versions"}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
