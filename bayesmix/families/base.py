"""What a component family is: the one place a family's mathematics is written.

A family module (:mod:`bayesmix.families.normal`, :mod:`bayesmix.families.student_t`)
builds one :class:`Family`. Everything downstream (model, sampling, densities,
memberships, LOO, diagnostics, report, files) reads the family from here and never
names a distribution itself. The parameters live on two scales: the sampled one, of the
standardised data ``z = (y - loc) / scale``, and the data's own; :class:`Parameter`
says how each maps between them.

The family's forms of its density, each tested against PyMC's ``pm.logp`` of
:attr:`Family.component_dist` (``tests/test_families.py``):

- :attr:`Family.component_dist`: the PyMC distribution; the model's generative graph and
  its per-observation log density (``pm.Mixture``) are built from it.
- :attr:`Family.kernel_logpdf` / :attr:`Family.kernel_grad`: numba functions for the fused
  likelihood (:mod:`bayesmix.families.fused`), the log density up to a per-component
  constant and its gradient; the constant is :attr:`Family.log_normaliser`, a PyTensor
  expression, so PyTensor differentiates it.
- :attr:`Family.logpdf` and :attr:`Family.rvs`: NumPy forms for draws x points arrays
  (densities, memberships, LOO) and for random draws (predictive, simulation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Family", "Parameter"]

Scaling = Literal["location", "scale", "none"]


@dataclass(frozen=True)
class Parameter:
    """A per-component parameter of a family.

    Parameters
    ----------
    name : str
        Its name in the model and the posterior (``mu``, ``sigma``, ``nu``).
    label : str
        Its column in ``res.components`` (``mean``, ``sigma``, ``nu``).
    scaling : {"location", "scale", "none"}
        How it maps from the standardised scale: ``loc + scale * v``, ``scale * v`` or
        unchanged.
    symbol : str
        Its symbol in the report's formulas (HTML entity allowed).
    """

    name: str
    label: str
    scaling: Scaling
    symbol: str

    @property
    def sampled_name(self) -> str:
        """Name of the sampled variable: ``<name>_z`` when rescaled, else the name."""
        return self.name if self.scaling == "none" else f"{self.name}_z"

    def to_data(self, value: Any, loc: Any, scale: Any) -> Any:
        """Map a value on the standardised scale to the data's scale."""
        if self.scaling == "location":
            return loc + scale * value
        if self.scaling == "scale":
            return scale * value
        return value

    def to_standard(self, value: Any, loc: Any, scale: Any) -> Any:
        """Map a value on the data's scale to the standardised scale."""
        if self.scaling == "location":
            return (value - loc) / scale
        if self.scaling == "scale":
            return value / scale
        return value


@dataclass(frozen=True)
class Family:
    """A component family of the mixture: its parameters and every form of its density.

    Built once per family module; see the module docstring for how the forms relate.
    All functions take the parameters in the order of :attr:`parameters`.

    Parameters
    ----------
    name : str
        The name users pass as ``family=``.
    title : str
        How formulas name a component's distribution, e.g. ``Normal``.
    adjective : str
        How text names the mixture, e.g. "normal" in "2-component normal mixture".
    parameters : tuple of Parameter
        The per-component parameters; the first is the location that is ordered.
    hyper_values : callable
        ``(priors) -> dict``: the numbers of the priors past location and scale (e.g.
        ``nu_prior``: shape and rate), by shared-variable name; the model holds them in
        shared variables so that one compiled model serves every prior.
    declare_extra_priors : callable
        ``(hyper, k) -> dict``: inside a ``pm.Model`` context, declare the priors of the
        parameters past location and scale (e.g. ``nu``) from those shared variables,
        returning them by name.
    component_dist : callable
        ``(*params) -> TensorVariable``: the PyMC distribution (``.dist``) of one
        component for each parameter vector of shape (K,).
    log_normaliser : callable
        ``(*params) -> TensorVariable``: per-component constant of the log density.
    kernel_logpdf, kernel_grad : numba functions
        ``kernel_logpdf(z, m, theta, j, out)``: ``out[i]`` = log density of ``z[i]`` under
        component j minus its normaliser, for ``i < m``; ``theta`` has shape (P, K).
        ``kernel_grad(z, r, m, theta, j, g)``: ``g[p, j] += sum_{i<m} r[i] * d/dtheta[p, j]``
        of that log density at ``z[i]`` (``r``: the responsibilities). Both loop over a
        block of observations so that LLVM vectorises them.
    logpdf : callable
        ``(x, *params) -> ndarray``: the full log density, NumPy broadcasting.
    rvs : callable
        ``(rng, *params) -> ndarray``: random draws, NumPy broadcasting.
    start_extra : callable
        ``(k) -> dict``: start values of the parameters past location and scale.
    prior_lines : callable
        ``(priors) -> list of (html, text)``: the report's formula lines of those priors.
    """

    name: str
    title: str
    adjective: str
    parameters: tuple[Parameter, ...]
    hyper_values: Callable[[Any], dict[str, np.ndarray]]
    declare_extra_priors: Callable[[Any, int], dict[str, Any]]
    component_dist: Callable[..., Any]
    log_normaliser: Callable[..., Any]
    kernel_logpdf: Any
    kernel_grad: Any
    logpdf: Callable[..., np.ndarray]
    rvs: Callable[..., np.ndarray]
    start_extra: Callable[[int], dict[str, np.ndarray]]
    prior_lines: Callable[[Any], list[tuple[str, str]]]

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the parameters on the data's scale, e.g. ``("mu", "sigma")``."""
        return tuple(p.name for p in self.parameters)

    @property
    def sampled_names(self) -> tuple[str, ...]:
        """Names of the sampled parameters, e.g. ``("mu_z", "sigma_z")``."""
        return tuple(p.sampled_name for p in self.parameters)

    def params_of(self, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Return the parameters in order, from a mapping by name."""
        return tuple(values[name] for name in self.names)
