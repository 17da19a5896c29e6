"""The quick-start example, runnable as ``python -m bayesmix.demo``.

Simulates the blog post's data (60/40 mixture of N(1, 1) and N(5, 2), n = 1000), fits a
two-component mixture, prints the components table and diagnostics, and saves the
density plot.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

__all__ = ["main", "quickstart_data"]


def quickstart_data() -> np.ndarray:
    """Return the README's quick-start data: 1000 draws, 60% N(1, 1) and 40% N(5, 2), seed 0."""
    rng = np.random.default_rng(0)
    z = rng.choice(2, size=1000, p=[0.6, 0.4])
    return np.where(z == 0, rng.normal(1, 1, 1000), rng.normal(5, 2, 1000))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bayesmix.demo", description=__doc__)
    parser.add_argument("--out", default="demo-density.png", help="where to save the plot")
    parser.add_argument("--seed", type=int, default=1, help="random_seed of the fit")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import bayesmix as bm

    y = quickstart_data()
    res = bm.fit(y, n_components=2, random_seed=args.seed)
    print("\nTruth: weights 0.6 / 0.4, means 1 / 5, sigmas 1 / 2\n")
    print(res.components.round(3).to_string())
    print()
    print(res.diagnostics)
    fig = res.plot_density().get_figure(root=True)
    assert fig is not None
    fig.savefig(args.out, dpi=120)
    print(f"\ndensity plot written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
