"""What is fitted: the spec and its priors, the PyMC model, starts and simulated data."""

from bayesmix.model.build import build_model, shared_values, standardisation
from bayesmix.model.simulate import simulate_mixture
from bayesmix.model.spec import FamilyName, MixtureSpec, Priors
from bayesmix.model.starts import StartValues, start_values

__all__ = [
    "FamilyName",
    "MixtureSpec",
    "Priors",
    "StartValues",
    "build_model",
    "shared_values",
    "simulate_mixture",
    "standardisation",
    "start_values",
]
