"""Plots of a fitted mixture. Each ``plot_x`` draws what the result's ``x`` computes.

Functions take a :class:`~bayesmix.result.MixtureResult` and an optional matplotlib Axes
to draw into, and return the Axes (or ArviZ's PlotCollection), so a plot renders inline
in a notebook, goes into a user's own figure, or is saved with
``ax.figure.savefig("density.png")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bayesmix.posterior import density as dens

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bayesmix.posterior.fitted import Fitted

__all__ = ["parameter_names", "plot_density", "plot_membership", "plot_trace"]


def plot_density(
    result: Fitted,
    ax: Axes | None = None,
    *,
    ci_prob: float | None = 0.9,
    bins: int | str = "auto",
    n_points: int = 500,
    show_components: bool = True,
    title: str | None = None,
) -> Axes:
    """Histogram of the data with the predictive density, its band and the components.

    Parameters
    ----------
    result : MixtureResult
        A fitted mixture.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made if omitted.
    ci_prob : float or None, default 0.9
        Probability of the pointwise band; None uses ArviZ's ``stats.ci_prob``.
    bins : int or str, default "auto"
        Histogram bins, as in :func:`numpy.histogram`.
    n_points : int, default 500
        Grid points for the curves.
    show_components : bool, default True
        Draw each component's posterior mean weighted density ``w_k N(x | mu_k, sigma_k)``.
    title : str, optional
        Axes title; default describes the fit.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, holding one histogram, the density line, the band, and one line per
        component.

    Examples
    --------
    >>> ax = res.plot_density()  # doctest: +SKIP
    >>> ax.figure.savefig("density.png")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    x = result.grid(n_points)
    frame = result.density(x, ci_prob=ci_prob)
    prob = frame.attrs["ci_prob"]
    ax.hist(
        result.data,
        bins=bins,
        density=True,
        color="0.82",
        edgecolor="white",
        label="data",
        gid="bayesmix-histogram",
    )
    ax.fill_between(
        x,
        frame["lower"],
        frame["upper"],
        color="C0",
        alpha=0.3,
        linewidth=0,
        label=f"{prob:.0%} credible band",
        gid="bayesmix-band",
    )
    ax.plot(
        x,
        frame["mean"],
        color="C0",
        lw=2,
        label="posterior predictive density",
        gid="bayesmix-density",
    )
    if show_components:
        curves = dens.component_curves(x, result.draws)
        for k, curve in enumerate(curves):
            ax.plot(
                x,
                curve,
                ls="--",
                lw=1.2,
                color=f"C{k + 1}",
                label=f"component {k} (weighted)",
                gid=f"bayesmix-component-{k}",
            )
    ax.set_xlabel("value")
    ax.set_ylabel("density")
    ax.set_ylim(bottom=0)
    ax.set_title(
        title
        if title is not None
        else (
            f"{result.n_components}-component {result.family.adjective} mixture, "
            f"n = {result.data.size}"
        )
    )
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_membership(
    result: Fitted,
    ax: Axes | None = None,
    *,
    ci_prob: float | None = 0.9,
    n_points: int = 300,
    show_data: bool = True,
) -> Axes:
    """Probability of belonging to each component along x, with pointwise bands.

    Parameters
    ----------
    result : MixtureResult
        A fitted mixture.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made if omitted.
    ci_prob : float or None, default 0.9
        Probability of the bands; None uses ArviZ's ``stats.ci_prob``.
    n_points : int, default 300
        Grid points.
    show_data : bool, default True
        Mark the observations as a rug, coloured by most probable component.

    Returns
    -------
    matplotlib.axes.Axes
        One line and one band per component.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    x = result.grid(n_points)
    frame = result.membership(x, ci_prob=ci_prob)
    prob = frame.attrs["ci_prob"]
    for k in range(result.n_components):
        part = frame[frame["component"] == k]
        ax.fill_between(
            x,
            part["lower"],
            part["upper"],
            color=f"C{k + 1}",
            alpha=0.25,
            linewidth=0,
            gid=f"bayesmix-membership-band-{k}",
        )
        ax.plot(
            x,
            part["mean"],
            color=f"C{k + 1}",
            lw=2,
            label=f"component {k}",
            gid=f"bayesmix-membership-{k}",
        )
    if show_data:
        labels = result.predict()
        colors = [f"C{k + 1}" for k in labels]
        ax.scatter(
            result.data,
            np.full(result.data.size, -0.04),
            c=colors,
            marker="|",
            s=60,
            linewidths=0.8,
            gid="bayesmix-rug",
        )
    ax.set_ylim(-0.08, 1.02)
    ax.set_xlabel("value")
    ax.set_ylabel("P(component | x)")
    ax.set_title(f"Membership probabilities with {prob:.0%} credible bands")
    ax.legend(frameon=False, fontsize="small")
    return ax


def parameter_names(result: Fitted) -> list[str]:
    """Return the parameter variables of a fit: the weights (K > 1) and the family's."""
    return (["weights"] if result.n_components > 1 else []) + list(result.family.names)


def plot_trace(result: Fitted, var_names: list[str] | None = None, **kwargs: Any) -> Any:
    """Trace and marginal posterior plots of the parameters (arviz-plots).

    Parameters
    ----------
    result : MixtureResult
        A fitted mixture.
    var_names : list of str, optional
        Variables to show; default the weights and the family's parameters (normal:
        ``["weights", "mu", "sigma"]``; Student-t adds ``"nu"``).
    **kwargs
        Passed to :func:`arviz_plots.plot_trace_dist`.

    Returns
    -------
    arviz_plots.PlotCollection
        Its ``viz["figure"]`` holds the matplotlib Figure.
    """
    from arviz_plots import plot_trace_dist

    if var_names is None:
        var_names = parameter_names(result)
    kwargs.setdefault("backend", "matplotlib")
    return plot_trace_dist(result.idata, var_names=var_names, **kwargs)
