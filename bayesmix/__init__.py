"""bayesmix: Bayesian finite mixture models on PyMC and ArviZ.

Fit a finite mixture with ``bm.fit(y, n_components=2)`` (normal components, or
``family="student_t"``) and explore the result: ``res.components``, ``res.summary()``,
``res.plot_density()``.

The package is laid out by stage, each a folder whose modules import only earlier ones:
``data`` (input), ``families`` (one module per component family), ``model`` (spec,
priors, the PyMC model, starts), ``sampling`` (NUTS, fit, compare), ``posterior``
(densities, memberships, LOO), ``diagnostics``, ``report``, ``io``; then ``result``
(the object users hold), ``cli`` and ``sklearn``.
"""

from bayesmix.data import as_observations, datasets
from bayesmix.diagnostics import ComponentWarning, ConvergenceWarning, Diagnostics
from bayesmix.io import FitFileError, save
from bayesmix.model import MixtureSpec, Priors, build_model, simulate_mixture
from bayesmix.report import show_versions
from bayesmix.result import MixtureResult
from bayesmix.sampling import (
    Comparison,
    LOOWarning,
    ManyFits,
    SamplerSettings,
    SamplingError,
    compare,
    fit,
    fit_many,
    fit_sparse,
    sample,
)
from bayesmix.saved import load

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ComponentWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "LOOWarning",
    "ManyFits",
    "MixtureResult",
    "MixtureSpec",
    "Priors",
    "SamplerSettings",
    "SamplingError",
    "__version__",
    "as_observations",
    "build_model",
    "compare",
    "datasets",
    "fit",
    "fit_many",
    "fit_sparse",
    "load",
    "sample",
    "save",
    "show_versions",
    "simulate_mixture",
]
