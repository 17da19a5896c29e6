"""The posterior's consequences: densities and bands, memberships, log-likelihood, LOO."""

from bayesmix.posterior.density import Band, Draws

__all__ = ["Band", "Draws"]
