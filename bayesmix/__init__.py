"""bayesmix: Bayesian finite mixture models on PyMC and ArviZ.

Fit a finite normal mixture with ``bm.fit(y, n_components=2)`` and explore the result:
``res.components``, ``res.summary()``, ``res.plot_density()``.
"""

from bayesmix import datasets
from bayesmix.comparison import Comparison, LOOWarning, compare
from bayesmix.data import as_observations
from bayesmix.diagnostics import ComponentWarning, ConvergenceWarning, Diagnostics
from bayesmix.fitting import SamplerSettings, SamplingError, fit, sample
from bayesmix.io import FitFileError, load, save
from bayesmix.model import build_model
from bayesmix.report import show_versions
from bayesmix.result import MixtureResult
from bayesmix.simulate import simulate_mixture
from bayesmix.sparse import fit_sparse
from bayesmix.spec import MixtureSpec, Priors

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ComponentWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "FitFileError",
    "LOOWarning",
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
    "fit_sparse",
    "load",
    "sample",
    "save",
    "show_versions",
    "simulate_mixture",
]
