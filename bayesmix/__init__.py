"""bayesmix: Bayesian finite mixture models on PyMC and ArviZ.

Fit a finite normal mixture with ``bm.fit(y, n_components=2)`` and explore the result:
``res.components``, ``res.summary()``, ``res.plot_density()``.
"""

from bayesmix.data import as_observations
from bayesmix.diagnostics import ComponentWarning, ConvergenceWarning, Diagnostics
from bayesmix.fitting import SamplerSettings, fit, sample
from bayesmix.model import build_model
from bayesmix.result import MixtureResult
from bayesmix.simulate import simulate_mixture
from bayesmix.sparse import fit_sparse
from bayesmix.spec import MixtureSpec, Priors

__version__ = "0.1.0"

__all__ = [
    "ComponentWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "MixtureResult",
    "MixtureSpec",
    "Priors",
    "SamplerSettings",
    "__version__",
    "as_observations",
    "build_model",
    "fit",
    "fit_sparse",
    "sample",
    "simulate_mixture",
]
