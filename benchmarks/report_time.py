"""Report time against the number of draws (issue 19: 4 x 20,000 draws took ~4 minutes).

    python benchmarks/report_time.py                    # 1000 and 20000 draws per chain
    python benchmarks/report_time.py --draws 1000 5000 20000

Fits the bundled galaxy velocities (K = 3 in 1000 km/s, 4 chains, seed 1: the demo's
fit, which converges) once per number of draws, then times ``res.report(path)`` and,
apart, each of its costly parts (the convergence checks, each figure, the summary and
the components table) on a fresh copy of the result, so that nothing cached by one
part speeds up another. Reported: seconds, and the ratio of each row to the baseline
(the first ``--draws``) in the same run. The target: the whole report at 4 x 20,000
draws in under 20 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _timed(f: Callable[[], Any]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def measure(draws: int, seed: int) -> dict[str, float]:
    """Seconds of each report part, and of the whole report, for one fit."""
    import matplotlib.pyplot as plt

    import bayesmix as bm
    from bayesmix.report.figures import FIGURES

    y = bm.datasets.load("galaxies").to_numpy() / 1000.0
    fit = bm.fit(y, 3, draws=draws, random_seed=seed, progressbar=False)
    fresh = bm.load  # a saved and reloaded fit has no cached diagnostics or draws
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fit.nc"
        fit.save(path)
        res = fresh(path)
        out["diagnostics"] = _timed(lambda: res.diagnostics)
        for name, draw in FIGURES.items():
            out[f"figure: {name}"] = _timed(lambda draw=draw: plt.close(draw(res)))
        out["summary"] = _timed(lambda: res.summary())
        out["components"] = _timed(lambda: res.components)
        res = fresh(path)
        out["whole report"] = _timed(lambda: res.report(Path(tmp) / "fit.html"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, nargs="+", default=[1000, 20_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    measure(200, a.seed)  # compile and import everything once, outside the timings
    rows = {d: measure(d, a.seed) for d in a.draws}
    base = rows[a.draws[0]]
    print(f"| part | {' | '.join(f'4 x {d} draws: s (÷ 4 x {a.draws[0]})' for d in a.draws)} |")
    print(f"|---|{'---|' * len(a.draws)}")
    for part in base:
        cells = [f"{rows[d][part]:.2f} ({rows[d][part] / base[part]:.1f}x)" for d in a.draws]
        print(f"| {part} | {' | '.join(cells)} |")
    if a.json:
        a.json.write_text(json.dumps({str(d): r for d, r in rows.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
