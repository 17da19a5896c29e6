"""Where a fit's time goes: compilation, tuning, draws, gradients, post-processing.

    python benchmarks/profile_fit.py --n 100000

Run it with a fresh ``NUMBA_CACHE_DIR`` to include compilation. It times, in one
process: importing bayesmix; loading (or compiling) the numba callbacks; nutpie's
sampling, with the gradient evaluations of tuning and of the draws counted apart (the
warm-up is saved for that); one gradient evaluation alone (so gradients x cost / cores
is the share of sampling spent in the likelihood, the rest being nuts-rs and waiting);
and bayesmix's work after sampling (log-likelihood, diagnostics, summary, density band).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    import bayesmix as bm
    from bayesmix import _nutpie
    from bayesmix.model.build import shared_values, start_values

    times = {"import bayesmix": time.perf_counter() - t0}
    t = time.perf_counter()
    from bayesmix._posterior import FAMILY_CODES, log_posterior

    times["load or compile the C callbacks"] = time.perf_counter() - t
    y = bm.simulate_mixture(a.n, [0.3, 0.4, 0.3], [-4.0, 0.0, 4.0], [1.0] * 3, random_seed=0)
    spec = bm.MixtureSpec.from_data(y, 3)
    start = start_values(y, spec)
    layout = _nutpie._standard_layout(3)
    compiled = _nutpie._direct_model(
        shared_values(y, spec), 3, FAMILY_CODES["halfnormal"],
        _nutpie._start_function(layout, start, a.seed),
    )  # fmt: skip
    import nutpie

    cores = min(4, os.cpu_count() or 1)
    t = time.perf_counter()
    tree = nutpie.sample(compiled, draws=1000, tune=1000, chains=4, cores=cores, seed=a.seed,
                         save_warmup=True, progress_bar=False, target_accept=0.9)  # fmt: skip
    times["nutpie sampling (4 chains x 2000 steps)"] = time.perf_counter() - t
    warm = int(tree["warmup_sample_stats"]["n_steps"].sum())
    draws = int(tree["sample_stats"]["n_steps"].sum())

    shared = shared_values(y, spec)
    x = _nutpie._flatten(layout, start)
    args = (shared["y_observed"], shared["y_loc_scale"], shared["priors_z"],
            shared["weights_alpha"], 0)  # fmt: skip
    log_posterior(x, *args)
    reps = max(5, int(2e7 / a.n))
    t = time.perf_counter()
    for _ in range(reps):
        log_posterior(x, *args)
    per_grad = (time.perf_counter() - t) / reps

    t = time.perf_counter()
    res = bm.fit(y, 3, random_seed=a.seed, progressbar=False)
    fit_wall = time.perf_counter() - t
    sampling = float(res.idata["posterior"].attrs["sampling_time"])
    t = time.perf_counter()
    res.summary()
    res.density(res.grid(500))
    after = time.perf_counter() - t

    grad_s = (warm + draws) * per_grad / cores
    sampling_s = times["nutpie sampling (4 chains x 2000 steps)"]
    print(f"N = {a.n}, K = 3, 4 chains x (1000 tune + 1000 draws) on {cores} cores\n")
    print("| part | s | share |\n|---|---|---|")
    for name, s in times.items():
        print(f"| {name} | {s:.2f} | |")
    print(f"| gradient evaluations: {warm} in tuning + {draws} in draws, "
          f"{per_grad * 1e6:.0f} µs each, / {cores} cores | {grad_s:.1f} "
          f"| {grad_s / sampling_s:.0%} of sampling |")  # fmt: skip
    print(f"| of which tuning | {warm * per_grad / cores:.1f} | {warm / (warm + draws):.0%} "
          "of gradients |")  # fmt: skip
    print(f"| sampler outside gradients (nuts-rs, thread waits) | {sampling_s - grad_s:.1f} "
          f"| {(sampling_s - grad_s) / sampling_s:.0%} of sampling |")  # fmt: skip
    print(f"| bm.fit (warm): sampling {sampling:.1f} s + bayesmix {fit_wall - sampling:.2f} s "
          f"| {fit_wall:.1f} | |")  # fmt: skip
    print(
        f"| summary() + density(500 points) | {after:.2f} | "
        f"{(fit_wall - sampling + after) / (fit_wall + after):.1%} of fit + these is bayesmix |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
