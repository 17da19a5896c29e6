"""The demo: a three-component mixture of the bundled galaxy velocities.

Run it as ``bayesmix demo`` (or ``python -m bayesmix.cli.demo``, or ``make demo``). It fits
three components to the 82 galaxy velocities of :func:`bayesmix.datasets.load`, in units
of 1000 km/s, prints the components table and the convergence diagnostics, and writes the
fit (``fit.nc``), its HTML report (``fit.html``) and the density plot
(``demo-density.png``) to the output folder.

:func:`quickstart_data` returns the README's quick-start example data.
"""

from __future__ import annotations

import argparse
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["add_arguments", "main", "quickstart_data", "run"]


def quickstart_data() -> np.ndarray:
    """Return the README's quick-start data: 1000 draws, 60% N(1, 1) and 40% N(5, 2), seed 0."""
    rng = np.random.default_rng(0)
    z = rng.choice(2, size=1000, p=[0.6, 0.4])
    return np.where(z == 0, rng.normal(1, 1, 1000), rng.normal(5, 2, 1000))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (``--out-dir``, ``--seed``, sampler sizes) to ``parser``."""
    parser.add_argument("--out-dir", default=".", help="folder for fit.nc, fit.html and the plot")
    parser.add_argument("--seed", type=int, default=1, help="random_seed of the fit (default 1)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    parser.add_argument("--tune", type=int, default=1000, help="tuning steps (default 1000)")
    parser.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    parser.add_argument(
        "--progressbar", action=argparse.BooleanOptionalAction, default=True, help="progress bar"
    )


def run(
    out_dir: str | pathlib.Path = ".",
    *,
    seed: int = 1,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    progressbar: bool = True,
) -> dict[str, pathlib.Path]:
    """Fit the demo and write its files.

    Parameters
    ----------
    out_dir : str or pathlib.Path, default "."
        Existing folder to write ``fit.nc``, ``fit.html`` and ``demo-density.png`` to.
    seed : int, default 1
        ``random_seed`` of the fit.
    draws, tune, chains : int
        Sampler sizes, as for :func:`bayesmix.fit`.
    progressbar : bool, default True
        Show the sampler's progress bar.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, under keys ``"fit"``, ``"report"`` and ``"plot"``.

    Raises
    ------
    FileNotFoundError
        If ``out_dir`` does not exist.
    """
    import matplotlib

    matplotlib.use("Agg")
    import bayesmix as bm
    from bayesmix.report.html import write_report

    out = pathlib.Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"output folder {str(out)!r} does not exist; create it first")
    velocity = bm.datasets.load("galaxies") / 1000.0
    print(f"Galaxy velocities: {velocity.size} galaxies, in 1000 km/s (Roeder 1990, MASS)")
    print(f"Fitting 3 components ({chains} chains x {draws} draws, seed {seed}) ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = bm.fit(
            velocity,
            3,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=seed,
            progressbar=progressbar,
        )
    for w in caught:
        print(f"warning: {w.message}")
    print("\nComponents (velocities in 1000 km/s):")
    print(res.components.round(3).to_string())
    print()
    print(res.diagnostics)
    files = {
        "fit": res.save(out / "fit.nc"),
        "report": write_report(res, out / "fit.html"),
        "plot": out / "demo-density.png",
    }
    ax = res.plot_density()
    ax.set_xlabel("velocity (1000 km/s)")
    fig = ax.get_figure(root=True)
    assert fig is not None
    fig.savefig(files["plot"], dpi=120)
    print()
    for what, path in files.items():
        print(f"{what:>6} written to {path}")
    print(f"Reload the fit with bm.load({str(files['fit'])!r}) or `bayesmix summary`.")
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo from the command line; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bayesmix.cli.demo", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(
        args.out_dir,
        seed=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        progressbar=args.progressbar,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
