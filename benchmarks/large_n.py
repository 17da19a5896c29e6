"""Large data: one fit at N (default 10^6, K = 3), then every result method, timed.

    python benchmarks/large_n.py                 # N = 10^6
    python benchmarks/large_n.py --n 100000

Prints a Markdown table: wall time of each step and the process's peak RSS after it.
The target (issue 7): peak RSS under 4 GB at N = 10^6 with every method working.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-loo", action="store_true", help="skip PSIS-LOO (~11 min at 10^6)")
    a = ap.parse_args(argv)

    import bayesmix as bm

    truth = ([0.3, 0.4, 0.3], [-4.0, 0.0, 4.0], [1.0, 1.0, 1.0])
    y = bm.simulate_mixture(a.n, *truth, random_seed=0)
    rows: list[tuple[str, float, float, str]] = []

    def step(name: str, f: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = f()
        rows.append((name, time.perf_counter() - t, peak_rss_gb(), _shape(out)))
        print(f"{name}: {rows[-1][1]:.2f} s, peak RSS {rows[-1][2]:.2f} GB", file=sys.stderr)
        return out

    res = step("fit (4 x 1000 + 1000, cold)", lambda: bm.fit(y, 3, random_seed=a.seed,
                                                             progressbar=False))  # fmt: skip
    grid = res.grid(500)
    with tempfile.TemporaryDirectory() as tmp:
        step("summary()", res.summary)
        step("components", lambda: res.components)
        step("diagnostics", lambda: res.diagnostics)
        step("pdf(500 points)", lambda: res.pdf(grid))
        step("density(500 points), band", lambda: res.density(grid))
        step("predict_proba(data)", res.predict_proba)
        step("predict(data)", res.predict)
        step("membership(10^4 points), intervals", lambda: res.membership(y[:10_000]))
        step("sample(10^6)", lambda: res.sample(1_000_000, random_seed=0))
        path = Path(tmp) / "fit.nc"
        step("save", lambda: res.save(path))
        loaded = step("load", lambda: bm.load(path))
        step("loaded.pdf(500 points)", lambda: loaded.pdf(grid))
        step("report (HTML)", lambda: res.report(Path(tmp) / "fit.html"))
        if not a.no_loo:
            step(
                "PSIS-LOO (Comparison.from_fits, blockwise)",
                lambda: bm.Comparison.from_fits({3: res}),
            )
    print(f"N = {a.n}, K = 3, seed {a.seed}\n")
    print("| step | wall s | peak RSS GB so far | output |\n|---|---|---|---|")
    for name, wall, rss, shape in rows:
        print(f"| {name} | {wall:.2f} | {rss:.2f} | {shape} |")
    print("\n" + res.summary().to_markdown() if _has_tabulate() else str(res.summary()))
    return 0


def _shape(out: Any) -> str:
    shape = getattr(out, "shape", None)
    return str(tuple(shape)) if shape is not None else type(out).__name__


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
