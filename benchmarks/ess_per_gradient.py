"""ESS per gradient evaluation: bayesmix's default against PyMC's NUTS, same model and starts.

    python benchmarks/ess_per_gradient.py [--seeds 1 2] [--json out.json]

For each case, the same PyMC model (``bm.build_model``) is sampled from the same start
(bayesmix's k-means start, ``bm.model.start_values``) by

- ``bayesmix``: ``bm.fit``'s sampler, nutpie, target_accept 0.9 (the default), with the
  ESS extension off so that both runs have 4 x 1000 draws after 1000 tuning steps;
- ``bayesmix ta=0.8``: the same at PyMC's target_accept (the one reparameterisation
  knob left: sigma is already sampled on the log scale and the means are centred on the
  standardised data);
- ``pymc``: ``pm.sample(model, nuts_sampler="pymc", initvals=start)``, PyMC's own NUTS
  with its defaults (target_accept 0.8, jitter+adapt_diag). (A bare ``pm.sample()`` runs
  nutpie when it is installed, so the PyMC sampler is named explicitly.)

Per run: bulk and tail ESS of every parameter (weights, mu, sigma per component; ArviZ),
gradient evaluations after tuning (the sum of ``n_steps``), and the smallest bulk and
tail ESS per 1000 gradients. Ratios are bayesmix / pymc in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def cases() -> dict[str, tuple[np.ndarray, int]]:
    """The data sets: three bundled, two simulated with slow tails (N = 150)."""
    import bayesmix as bm

    faithful = bm.datasets.load("faithful")
    slow = bm.simulate_mixture(150, [0.5, 0.5], [0.0, 1.6], [1.0, 1.0], random_seed=4)
    milder = bm.simulate_mixture(150, [0.4, 0.6], [0.0, 2.5], [1.0, 1.0], random_seed=5)
    return {
        "faithful waiting, K=2": (faithful["waiting"].to_numpy(float), 2),
        "faithful eruptions, K=2": (faithful["eruptions"].to_numpy(float), 2),
        "galaxies, K=3": (bm.datasets.load("galaxies").to_numpy(float), 3),
        "overlapping N=150, K=2 (slow tails)": (slow, 2),
        "two groups N=150, K=2 (slow tails)": (milder, 2),
    }


def _efficiency(posterior: Any, stats: Any, names: tuple[str, ...]) -> dict[str, float]:
    from arviz_stats import ess

    grads = float(np.asarray(stats["n_steps"]).sum())
    bulk = [float(v) for n in names for v in np.ravel(ess(posterior[n], method="bulk").values)]
    tail = [float(v) for n in names for v in np.ravel(ess(posterior[n], method="tail").values)]
    return {
        "gradients": grads,
        "divergences": float(np.asarray(stats["diverging"]).sum()),
        "min_ess_bulk": min(bulk),
        "min_ess_tail": min(tail),
        "bulk_per_1000_grad": 1000 * min(bulk) / grads,
        "tail_per_1000_grad": 1000 * min(tail) / grads,
    }


def run_case(y: np.ndarray, k: int, seed: int) -> dict[str, dict[str, float]]:
    """Sample one case three ways; return each run's efficiency."""
    import pymc as pm

    import bayesmix as bm
    from bayesmix.model import start_values

    spec = bm.MixtureSpec.from_data(y, k)
    names = ("weights", "mu", "sigma")
    out = {}
    for label, target in (("bayesmix", 0.9), ("bayesmix ta=0.8", 0.8)):
        t = time.perf_counter()
        res = bm.fit(y, k, random_seed=seed, target_accept=target, ess_target=None,
                     rerun_stray=False, progressbar=False)  # fmt: skip
        eff = _efficiency(res.idata["posterior"], res.idata["sample_stats"], names)
        out[label] = {**eff, "seconds": time.perf_counter() - t}
    model = bm.build_model(y, spec)
    start = start_values(y, spec)
    t = time.perf_counter()
    with model:
        tree = pm.sample(
            draws=1000, tune=1000, chains=4, cores=2, random_seed=seed, initvals=start,
            nuts_sampler="pymc", progressbar=False, compute_convergence_checks=False,
        )  # fmt: skip
    eff = _efficiency(tree["posterior"], tree["sample_stats"], names)
    out["pymc"] = {**eff, "seconds": time.perf_counter() - t}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every case for every seed; print the table; optionally write JSON."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    for name, (y, k) in cases().items():
        for seed in a.seeds:
            for label, eff in run_case(y, k, seed).items():
                rows.append({"case": name, "seed": seed, "sampler": label, **eff})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| case | sampler | min bulk ESS / 1000 grad | min tail ESS / 1000 grad | "
          "vs pymc (bulk, tail) | gradients | divergences | s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name in cases():
        mean = {}
        for label in ("bayesmix", "bayesmix ta=0.8", "pymc"):
            part = [r for r in rows if r["case"] == name and r["sampler"] == label]
            mean[label] = {
                key: float(np.mean([r[key] for r in part]))
                for key in part[0]
                if key not in ("case", "seed", "sampler")
            }
        base = mean["pymc"]
        for label, m in mean.items():
            bulk, tail = m["bulk_per_1000_grad"], m["tail_per_1000_grad"]
            ratio = (
                f"{bulk / base['bulk_per_1000_grad']:.2f}x, "
                f"{tail / base['tail_per_1000_grad']:.2f}x"
            )
            cells = f"{m['gradients']:.0f} | {m['divergences']:.1f} | {m['seconds']:.1f}"
            print(f"| {name} | {label} | {bulk:.1f} | {tail:.1f} | {ratio} | {cells} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
