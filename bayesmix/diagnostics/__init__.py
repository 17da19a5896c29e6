"""Convergence and component checks of a fit (ArviZ's r_hat and ESS underneath)."""

from bayesmix.diagnostics.checks import (
    ComponentWarning,
    ConvergenceWarning,
    Diagnostics,
    diagnose,
    warn_if_not_converged,
)

__all__ = [
    "ComponentWarning",
    "ConvergenceWarning",
    "Diagnostics",
    "diagnose",
    "warn_if_not_converged",
]
