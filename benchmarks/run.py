"""Benchmark bayesmix against hand-written mixture models: wall time, ESS/s, memory.

    python benchmarks/run.py                         # the default plan (see PLAN)
    python benchmarks/run.py --n 1000 --runners bayesmix pymc-default --seeds 1 2 3

Every run is one fresh process with fresh PyTensor, numba and JAX caches. In it the
same seeded data (K = 3, well separated: weights 0.3/0.4/0.3, means -4/0/4, sd 1) is
fitted twice with 4 chains x (1000 tune + 1000 draws): the first fit is the *cold*
wall time (compilation included; imports are reported apart), the second, on the same
data with another seed, the *warm* wall time. From N = 10^5 on (``ONE_FIT_FROM``) each
run fits once, cold. bayesmix's default runs five seeds at every N, to count stuck
runs; a runner whose projected time (linear in N from its previous N) exceeds
``--budget`` is skipped, and the table says so with the projection.

All contenders share the priors (those bayesmix resolves from the data) and the start
(bayesmix's k-means start), so the comparison is of implementations, not of models.
Reported per run: cold and warm wall, min bulk and tail ESS over weights, means and
sigmas, ESS/s (min bulk ESS / warm wall, or cold where there is no warm fit),
divergences, max r_hat, whether a chain is stuck (r_hat > 1.05 or a chain in another
mode), gradient evaluations after tuning and peak RSS. Ratios are to bayesmix's default
in the same table; the summary table gives bayesmix ÷ each contender. The kernel rows
time the fused log-likelihood + gradient alone, and the lower bound the issue set:
10^5 gradient evaluations on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUNNERS = ("bayesmix", "bayesmix-student_t", "bayesmix-nutpie", "bayesmix-pymc",
           "bayesmix-numpyro", "pymc-default", "pymc-c", "pymc-numpyro", "numpyro")  # fmt: skip
#: The hand-written contenders (the others are bayesmix with each sampler).
CONTENDERS = ("pymc-default", "pymc-c", "pymc-numpyro", "numpyro")
#: Default plan: every runner at N = 10^3 and 10^4; beyond, bayesmix's default and the
#: contenders, each while its projected time fits the budget (see ``--budget``).
PLAN = {
    1_000: RUNNERS,
    10_000: RUNNERS,
    100_000: ("bayesmix", *CONTENDERS),
    1_000_000: ("bayesmix", *CONTENDERS),
}
#: bayesmix's default runs these seeds at every N (the stuck-chain check); others seed 1.
DEFAULT_SEEDS = {"bayesmix": (1, 2, 3, 4, 5)}
#: From this N on, a run fits once (cold, compilation included: a few % of the wall).
ONE_FIT_FROM = 100_000
TRUTH = {"weights": [0.3, 0.4, 0.3], "mu": [-4.0, 0.0, 4.0], "sigma": [1.0, 1.0, 1.0]}
SAMPLING = {"draws": 1000, "tune": 1000, "chains": 4}


def data(n: int, seed: int = 0) -> Any:
    import bayesmix as bm

    return bm.simulate_mixture(n, TRUTH["weights"], TRUTH["mu"], TRUTH["sigma"], random_seed=seed)


# -- the contenders, each returning a DataTree with weights, mu, sigma ------------------
def _priors_and_start(y: Any) -> tuple[Any, dict[str, Any]]:
    import numpy as np

    from bayesmix.model import standardisation, start_values
    from bayesmix.model.spec import MixtureSpec

    spec = MixtureSpec.from_data(y, 3)
    loc, scale = standardisation(y)
    z = start_values(y, spec)
    start = {"weights": z["weights"], "mu": loc + scale * z["mu_z"], "sigma": scale * z["sigma_z"]}
    return spec.priors, {k: np.asarray(v) for k, v in start.items()}


def _pymc_model(y: Any) -> Any:
    """The textbook PyMC mixture a user would write (data scale, pm.NormalMixture)."""
    import numpy as np
    import pymc as pm

    p, _ = _priors_and_start(y)
    with pm.Model(coords={"component": range(3)}) as model:
        w = pm.Dirichlet("weights", a=np.ones(3), dims="component")
        mu = pm.Normal("mu", p.mu_loc, p.mu_scale, dims="component",
                       transform=pm.distributions.transforms.ordered)  # fmt: skip
        sigma = pm.HalfNormal("sigma", p.sigma_scale, dims="component")
        pm.NormalMixture("y", w=w, mu=mu, sigma=sigma, observed=y)
    return model


def _fit_pymc(y: Any, seed: int, sampler: str | None, mode: str | None = None) -> Any:
    import pymc as pm

    _, start = _priors_and_start(y)
    kwargs: dict[str, Any] = {"random_seed": seed, "progressbar": False, **SAMPLING}
    if sampler is not None:
        kwargs["nuts_sampler"] = sampler
    if mode is not None:
        kwargs["compile_kwargs"] = {"mode": mode}
    kwargs["initvals"] = start if sampler in (None, "nutpie") else [start] * SAMPLING["chains"]
    with _pymc_model(y):
        return pm.sample(**kwargs)


def _fit_numpyro(y: Any, seed: int) -> Any:
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from arviz_base import from_dict
    from numpyro.infer import MCMC, NUTS, init_to_value

    numpyro.set_host_device_count(2)
    p, start = _priors_and_start(y)

    def model(y: Any) -> None:
        w = numpyro.sample("weights", dist.Dirichlet(jnp.ones(3)))
        # PyMC's ordered normal: normal densities on the ordered set (unnormalised)
        mu = numpyro.sample("mu", dist.ImproperUniform(dist.constraints.ordered_vector, (), (3,)))
        numpyro.factor("mu_prior", dist.Normal(p.mu_loc, p.mu_scale).log_prob(mu).sum())
        sigma = numpyro.sample("sigma", dist.HalfNormal(p.sigma_scale).expand([3]).to_event(1))
        mix = dist.MixtureSameFamily(dist.Categorical(w), dist.Normal(mu, sigma))
        numpyro.sample("y", mix, obs=y)

    kernel = NUTS(model, init_strategy=init_to_value(values=start), target_accept_prob=0.8)
    mcmc = MCMC(kernel, num_warmup=SAMPLING["tune"], num_samples=SAMPLING["draws"],
                num_chains=SAMPLING["chains"], progress_bar=False,
                chain_method="parallel" if jax.device_count() > 1 else "sequential")  # fmt: skip
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(y), extra_fields=("diverging", "num_steps"))
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    return from_dict(
        {
            "posterior": {k: jax.device_get(samples[k]) for k in ("weights", "mu", "sigma")},
            "sample_stats": {
                "diverging": jax.device_get(extra["diverging"]),
                "n_steps": jax.device_get(extra["num_steps"]),
            },
        },
        dims={k: ["component"] for k in ("weights", "mu", "sigma")},
    )


def _fit(runner: str, y: Any, seed: int) -> Any:
    if runner.startswith("bayesmix"):
        import bayesmix as bm

        suffix = runner.partition("-")[2]
        family = "student_t" if suffix == "student_t" else "normal"
        sampler = "auto" if suffix in ("", "student_t") else suffix
        res = bm.fit(y, 3, family=family, random_seed=seed, sampler=sampler,
                     progressbar=False, **SAMPLING)  # fmt: skip
        res.summary()  # what a user looks at first
        res.density(res.grid(500))
        return res.idata
    if runner == "pymc-default":
        return _fit_pymc(y, seed, None)
    if runner == "pymc-c":
        return _fit_pymc(y, seed, "pymc", mode="CVM")
    if runner == "pymc-numpyro":
        return _fit_pymc(y, seed, "numpyro")
    if runner == "numpyro":
        return _fit_numpyro(y, seed)
    raise ValueError(f"unknown runner {runner!r}")


def _metrics(tree: Any) -> dict[str, Any]:
    import arviz_stats as azs
    import numpy as np

    from bayesmix.diagnostics.checks import _stray_chains  # the fit's own check

    post = tree["posterior"].to_dataset()[["weights", "mu", "sigma"]]
    # label-switching would inflate r_hat: order components by mean within each draw
    bulk = azs.ess(post, method="bulk")
    tail = azs.ess(post, method="tail")
    rhat = azs.rhat(post)
    stats = tree["sample_stats"].to_dataset()
    steps = next((stats[k] for k in ("n_steps", "tree_size", "num_steps") if k in stats), None)
    max_rhat = float(rhat.to_array().max())
    mu = np.asarray(post["mu"].transpose("chain", "draw", "component"))
    stray = _stray_chains(np.moveaxis(mu, -1, 0))  # (component, chain, draw)
    return {
        "ess_bulk": float(bulk.to_array().min()),
        "ess_tail": float(tail.to_array().min()),
        "r_hat": max_rhat,
        "divergences": int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else 0,
        "grad_evals": int(np.asarray(steps).sum()) if steps is not None else None,
        "stuck": bool(max_rhat > 1.05 or stray),
    }


def run_one(runner: str, n: int, seed: int) -> dict[str, Any]:
    """One runner at one N in this process: import, cold fit, warm fit."""
    t0 = time.perf_counter()
    import bayesmix  # noqa: F401  (imports timed apart from the fits)

    if runner in ("numpyro", "pymc-numpyro", "bayesmix-numpyro"):
        import jax  # noqa: F401
    imported = time.perf_counter() - t0
    y = data(n, seed)
    t1 = time.perf_counter()
    tree = _fit(runner, y, seed)
    cold = time.perf_counter() - t1
    warm = None
    if n < ONE_FIT_FROM:
        t2 = time.perf_counter()
        tree = _fit(runner, y, seed + 1000)
        warm = time.perf_counter() - t2
    out = {"runner": runner, "n": n, "seed": seed, "import_s": imported, "cold_s": cold,
           "warm_s": warm, **_metrics(tree)}  # fmt: skip
    out["ess_per_s"] = out["ess_bulk"] / (warm or cold)
    sampling = tree["posterior"].attrs.get("sampling_time")
    # bayesmix's own time outside the sampler: validation, start, log-likelihood,
    # diagnostics, summary and a 500-point density band
    out["outside_sampler_s"] = (warm or cold) - sampling if sampling is not None else None
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def kernel_times(sizes: list[int]) -> list[dict[str, Any]]:
    """Time the normal family's fused log-likelihood + gradient (one thread) at each N."""
    import numpy as np

    from bayesmix.families.fused import FusedMixtureLogLik

    fused = FusedMixtureLogLik("normal")
    rows = []
    for n in sizes:
        y = data(n)
        theta = np.array([[-1.2, 0.0, 1.2], [0.3, 0.3, 0.3]])
        a = np.log([0.3, 0.4, 0.3]) - np.log(theta[1]) - 0.5 * np.log(2 * np.pi)
        out: list[list[Any]] = [[None], [None], [None]]

        def _kernel(*args: Any, out: list[list[Any]] = out) -> None:
            fused.perform(None, args, out)  # type: ignore[arg-type]

        args = (y, np.array([float(y.mean()), float(y.std())]), a, theta)
        _kernel(*args)
        reps = max(5, int(2e7 / n))
        t = time.perf_counter()
        for _ in range(reps):
            _kernel(*args)
        rows.append({"n": n, "us": (time.perf_counter() - t) / reps * 1e6})
    return rows


def _child(runner: str, n: int, seed: int, timeout: float) -> dict[str, Any]:
    """Run one benchmark in a fresh process with fresh compile caches."""
    with tempfile.TemporaryDirectory(prefix="bayesmix-bench-") as tmp:
        env = {
            **os.environ,
            "NUMBA_CACHE_DIR": f"{tmp}/numba",
            "PYTENSOR_FLAGS": f"compiledir={tmp}/pytensor",
            "JAX_COMPILATION_CACHE_DIR": f"{tmp}/jax",
            "MPLBACKEND": "Agg",
            "PYTHONWARNINGS": "ignore",
        }
        cmd = [sys.executable, __file__, "--child", runner, str(n), str(seed)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"runner": runner, "n": n, "seed": seed, "error": f"timeout {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"runner": runner, "n": n, "seed": seed, "error": proc.stderr.strip()[-300:]}
    return json.loads(lines[-1])


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the runs, with ratios to bayesmix's default at the same N."""
    head = ("| runner | N | seed | import s | cold s | warm s | min ESS bulk | min ESS tail "
            "| ESS/s | ESS/s ÷ bayesmix's | divergences | max r_hat | stuck | grad evals (draws) "
            "| core-µs/grad | s outside sampler | peak RSS GB |")  # fmt: skip
    lines = [head, "|" + "---|" * 17]
    base = {(r["n"], r["seed"]): r for r in rows if r["runner"] == "bayesmix" and "cold_s" in r}
    for r in rows:
        if "cold_s" not in r:
            why = r.get("skipped") or f"error: {r.get('error', '')[:60]}"
            lines.append(f"| {r['runner']} | {r['n']} | {r['seed']} | {why} |" + " |" * 13)
            continue
        ref = base.get((r["n"], r["seed"]))
        ratio = r["ess_per_s"] / ref["ess_per_s"] if ref else None
        # warm wall x 2 cores / gradients: an upper bound on one gradient's cost
        wall = r["warm_s"] or r["cold_s"]
        per_grad = wall * 2 / r["grad_evals"] * 1e6 if r.get("grad_evals") else None
        cells = [r["runner"], r["n"], r["seed"], r["import_s"], r["cold_s"], r["warm_s"],
                 r["ess_bulk"], r["ess_tail"], r["ess_per_s"], ratio, r["divergences"],
                 r["r_hat"], r["stuck"], r["grad_evals"], per_grad,
                 r.get("outside_sampler_s"), r["peak_rss_gb"]]  # fmt: skip
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB, Python {platform.python_version()}"


def projected_s(rows: list[dict[str, Any]], runner: str, n: int) -> float | None:
    """Seconds a run of ``runner`` at ``n`` would take, from its largest smaller N.

    Scaled linearly in N (sampling dominates at large N; fixed costs make this an
    overestimate at small N), with one fit from ``ONE_FIT_FROM`` on and two before.
    """
    done = [r for r in rows if r["runner"] == runner and r["n"] < n and "cold_s" in r]
    if not done:
        return None
    last = max(done, key=lambda r: r["n"])
    per_fit = last["warm_s"] or last["cold_s"]
    return per_fit * n / last["n"] * (1 if n >= ONE_FIT_FROM else 2)


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Per N: bayesmix's default (median over seeds) against each contender, as ratios."""
    lines = ["| N | bayesmix ESS/s (median of seeds) | stuck runs | contender | its ESS/s "
             "| bayesmix ÷ contender |", "|---|---|---|---|---|---|"]  # fmt: skip
    for n in sorted({r["n"] for r in rows}):
        ours = [r for r in rows if r["runner"] == "bayesmix" and r["n"] == n and "cold_s" in r]
        if not ours:
            continue
        median = sorted(r["ess_per_s"] for r in ours)[len(ours) // 2]
        stuck = f"{sum(r['stuck'] for r in ours)} of {len(ours)}"
        for r in rows:
            if r["n"] != n or r["runner"] not in CONTENDERS:
                continue
            if "cold_s" in r:
                them, ratio = _fmt(r["ess_per_s"]), _fmt(median / r["ess_per_s"])
            else:
                them, ratio = r.get("skipped") or f"error: {r.get('error', '')[:40]}", "–"
            lines.append(f"| {n} | {_fmt(median)} | {stuck} | {r['runner']} | {them} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=3, metavar=("RUNNER", "N", "SEED"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, nargs="*", help="sizes (default: the plan)")
    ap.add_argument("--runners", nargs="*", choices=RUNNERS, help="runners (default: the plan)")
    ap.add_argument("--seeds", type=int, nargs="*", help="seeds (default: DEFAULT_SEEDS, or 1)")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="skip a run whose projected time exceeds this many seconds")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    a = ap.parse_args(argv)
    if a.child:
        runner, n, seed = a.child
        print(json.dumps(run_one(runner, int(n), int(seed))))
        return 0
    plan = {n: tuple(a.runners or PLAN.get(n, RUNNERS)) for n in (a.n or PLAN)}
    rows: list[dict[str, Any]] = []
    for n, runners in sorted(plan.items()):
        for runner in runners:
            for seed in a.seeds or DEFAULT_SEEDS.get(runner, (1,)):
                projected = projected_s(rows, runner, n)
                if projected is not None and projected > a.budget:
                    row = {"runner": runner, "n": n, "seed": seed,
                           "skipped": f"skipped: projected {projected:.0f} s"}  # fmt: skip
                else:
                    row = _child(runner, n, seed, a.timeout)
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
                a.out.write_text(json.dumps({"runs": rows}, indent=1))  # partial results
    kernel = kernel_times(sorted(plan))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    a.out.write_text(json.dumps({"date": stamp, "machine": machine(), "runs": rows,
                                 "kernel": kernel}, indent=1))  # fmt: skip
    print(report(stamp, rows, kernel))
    return 0


def overhead_table(rows: list[dict[str, Any]]) -> str:
    """bayesmix's own time outside the sampler, as a share of the wall (target: < 10%).

    Outside = the wall of fit + summary() + a 500-point density band, less nutpie's own
    sampling time: validation, start, trace conversion, diagnostics, summary and band.
    """
    lines = ["| N | bayesmix default: s outside sampler (median) | share of the wall (median, "
             "range over seeds) |", "|---|---|---|"]  # fmt: skip
    for n in sorted({r["n"] for r in rows}):
        ours = [r for r in rows if r["runner"] == "bayesmix" and r["n"] == n
                and r.get("outside_sampler_s") is not None]  # fmt: skip
        if not ours:
            continue
        outside = sorted(r["outside_sampler_s"] for r in ours)
        share = sorted(r["outside_sampler_s"] / (r["warm_s"] or r["cold_s"]) for r in ours)
        mid, low, high = share[len(share) // 2], share[0], share[-1]
        seconds = _fmt(outside[len(outside) // 2])
        lines.append(f"| {n} | {seconds} | {mid:.1%} ({low:.1%} to {high:.1%}) |")
    return "\n".join(lines)


def report(stamp: str, rows: list[dict[str, Any]], kernel: list[dict[str, Any]]) -> str:
    """The Markdown for benchmarks/README.md: summary, every run, the kernel and bounds."""
    out = [f"{stamp}; {machine()}", "", summary_table(rows), "", table(rows), ""]
    out += [overhead_table(rows), ""]
    out += ["| N | fused kernel µs per log-lik + gradient | bound: 10^5 gradients on 2 cores, s "
            "| bayesmix wall (median) ÷ bound |", "|---|---|---|---|"]  # fmt: skip
    for k in kernel:
        bound = 1e5 * k["us"] * 1e-6 / 2
        ours = sorted(
            r["warm_s"] or r["cold_s"]
            for r in rows
            if r["runner"] == "bayesmix" and r["n"] == k["n"] and "cold_s" in r
        )
        ratio = _fmt(ours[len(ours) // 2] / bound) if ours else "–"
        out.append(f"| {k['n']} | {k['us']:.1f} | {bound:.3g} | {ratio} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
