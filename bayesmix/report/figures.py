"""Figures of a report, rendered to deterministic PNG bytes.

Each function draws one figure of a fitted mixture (density, trace, rank, posterior
predictive check) and returns it as PNG bytes with no date or software stamp, so two
reports of one fit are byte-identical. Figures are closed after encoding.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from bayesmix.diagnostics.ranks import p_text
from bayesmix.posterior import density as dens
from bayesmix.report import plots

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayesmix.posterior.fitted import Fitted

__all__ = ["FIGURES", "png_bytes", "posterior_predictive_tree", "render_figures"]

#: Resolution of the embedded figures, in dots per inch.
DPI = 96
#: Replicated data sets drawn for the posterior predictive check.
PPC_DRAWS = 50
#: Largest replicated data set; bigger data are compared on a random subset of this size.
PPC_MAX_POINTS = 10_000


def png_bytes(fig: Figure) -> bytes:
    """Encode ``fig`` as PNG without metadata that would change between runs, then close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _density(result: Fitted) -> Figure:
    ax = plots.plot_density(result)
    fig = ax.get_figure(root=True)
    assert fig is not None
    return fig


def _trace(result: Fitted) -> Figure:
    pc = plots.plot_trace(result, figure_kwargs={"layout": "constrained"})
    return pc.viz["figure"].item()


def _rank(result: Fitted) -> Figure:
    """Rank ECDF panels, tested at the convergence checks' level on the same draws."""
    from arviz_plots import plot_rank

    names = plots.parameter_names(result)
    k = result.n_components
    step = result.diagnostics.table.attrs["rank_step"]  # the draws the checks tested
    posterior = result.idata["posterior"].to_dataset()[names].isel(draw=slice(None, None, step))
    level = result.diagnostics.table.attrs["rank_level"]  # the checks' level per panel
    pc = plot_rank(
        xr.DataTree.from_dict({"posterior": posterior}),
        backend="matplotlib",
        col_wrap=k,
        envelope_prob=1.0 - level,  # its level for marking the points behind a failure
        # keep the y axis: the deviation of each chain's ECDF from uniform is the reading
        visuals={"remove_axis": False},
        figure_kwargs={
            "figsize": (min(3.2 * k, 13.0), 2.2 * len(names)),
            "layout": "constrained",
        },
    )
    # plot_rank prints p and α to two decimals ("α=0.00" at 0.01 / 6) and its visuals
    # reject a format, so each panel's text is rewritten with the checks' p-value
    rank_p = result.diagnostics.table["rank_p"]
    axes = pc.viz["plot"]
    for name in names:
        for component in posterior[name]["component"].values:
            ax = axes[name].sel(component=component).item()
            p = rank_p[f"{name}[{component}]"]
            for text in ax.texts:
                if text.get_text().startswith("p="):
                    text.set_text(f"{p_text(p)} (α={level:.2g})")
    return pc.viz["figure"].item()


def posterior_predictive_tree(
    result: Fitted, n_draws: int = PPC_DRAWS, random_seed: int = 0
) -> xr.DataTree:
    """Replicated data sets from the posterior, beside the observed data, for ArviZ.

    Each of ``n_draws`` evenly spaced posterior draws generates one data set the size of
    the observed data (at most :data:`PPC_MAX_POINTS`; larger data are compared on a
    seeded random subset), with the same maths as :meth:`MixtureResult.sample`.

    Parameters
    ----------
    result : MixtureResult
        A fitted mixture; it is not modified.
    n_draws : int, default 50
        Number of replicated data sets.
    random_seed : int, default 0
        Seed for the replications (and the subset), so the check is reproducible.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior_predictive`` (dims chain=1, draw, obs) and ``observed_data``.
    """
    rng = np.random.default_rng(random_seed)
    y = result.data
    if y.size > PPC_MAX_POINTS:
        y = np.sort(rng.choice(y, size=PPC_MAX_POINTS, replace=False))
    draws = result.draws.thin(n_draws)
    reps = np.stack(
        [dens.sample_predictive(y.size, draws.take([s]), rng) for s in range(draws.n_draws)]
    )
    obs = np.arange(y.size)
    pp = xr.Dataset(
        {"y": (("chain", "draw", "obs"), reps[None])},
        coords={"chain": [0], "draw": np.arange(draws.n_draws), "obs": obs},
    )
    observed = xr.Dataset({"y": ("obs", y)}, coords={"obs": obs})
    return xr.DataTree.from_dict({"posterior_predictive": pp, "observed_data": observed})


def _ppc(result: Fitted) -> Figure:
    from arviz_plots import plot_ppc_dist

    tree = posterior_predictive_tree(result)
    n_rep = tree["posterior_predictive"].sizes["draw"]
    pc = plot_ppc_dist(
        tree,
        backend="matplotlib",
        num_samples=n_rep,
        figure_kwargs={"figsize": (7, 3.6), "layout": "constrained"},
    )
    return pc.viz["figure"].item()


#: Figure name -> drawing function, in report order.
FIGURES = {"density": _density, "trace": _trace, "rank": _rank, "ppc": _ppc}


def render_figures(result: Fitted) -> dict[str, bytes]:
    """Draw every report figure of ``result``; return name -> PNG bytes."""
    return {name: png_bytes(draw(result)) for name, draw in FIGURES.items()}
