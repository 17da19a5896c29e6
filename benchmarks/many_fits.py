"""Many small fits: a serial loop of ``bm.fit`` against ``bm.fit_many`` on a LocalCluster.

    python benchmarks/many_fits.py                     # 200 groups of N = 500, K = 2
    python benchmarks/many_fits.py --groups 40 --workers 2

Both run in this process on the same seeded groups (two components, weights 0.4/0.6,
means 0 and 3, sd 1), the same per-group seeds and the default sampler settings
(4 chains x 1000 + 1000). The serial loop runs after one warm-up fit, so its model is
compiled before the clock starts; ``fit_many``'s time includes starting the cluster and
each worker compiling the model once (amortised over the groups). Reported: wall time of
each, seconds per group, and the ratio serial / fit_many (the issue's goal: >= 1.8x on
2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--processes", action="store_true", help="fit_many(processes=True)")
    ap.add_argument("--json", type=Path, help="also write the numbers to this file")
    a = ap.parse_args(argv)

    import bayesmix as bm
    from bayesmix.sampling.groups import group_seed

    groups = {
        f"g{i:03d}": bm.simulate_mixture(a.n, [0.4, 0.6], [0.0, 3.0], [1.0, 1.0], random_seed=i)
        for i in range(a.groups)
    }
    warnings.simplefilter("ignore")  # a few groups miss an ESS target; not the point here
    bm.fit(groups["g000"], 2, random_seed=0, progressbar=False)  # compile once
    t = time.perf_counter()
    for name, y in groups.items():
        bm.fit(y, 2, random_seed=group_seed(a.seed, name), progressbar=False)
    serial = time.perf_counter() - t
    t = time.perf_counter()
    fits = bm.fit_many(
        groups, 2, n_workers=a.workers, processes=a.processes, random_seed=a.seed,
        progressbar=False,
    )  # fmt: skip
    many = time.perf_counter() - t
    row = {
        "groups": a.groups,
        "n": a.n,
        "workers": a.workers,
        "serial_s": round(serial, 1),
        "fit_many_s": round(many, 1),
        "ratio": round(serial / many, 2),
        "failed": len(fits.failures),
        "not_converged": int((fits.convergence["status"] == "not converged").sum()),
    }
    print(
        f"| groups x N | serial bm.fit loop | fit_many ({a.workers} workers) | serial / fit_many |"
    )
    print("|---|---|---|---|")
    print(
        f"| {a.groups} x {a.n} | {serial:.1f} s ({serial / a.groups:.2f} s/group) | "
        f"{many:.1f} s ({many / a.groups:.2f} s/group) | {serial / many:.2f}x |"
    )
    print(row)
    if a.json:
        a.json.write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
