"""The overfitted ("sparse") finite mixture: a posterior on the number of groups.

Following Malsiner-Walli, Frühwirth-Schnatter & Grün (2016, Statistics and Computing
26:303-324), fit deliberately too many components, ``K_max``, with a small symmetric
Dirichlet concentration ``e0``. A small ``e0`` pulls the weights of surplus components
towards zero, so they empty out; the number of *non-empty* components K+, read from the
posterior draws of the labels, estimates the number of groups, and its posterior says how
sure the data are. (Rousseau & Mengersen 2011: with ``e0 < d / 2``, d = 2 parameters per
normal component, the surplus components empty asymptotically.)

How this differs from :func:`bayesmix.compare`: LOO asks which K *predicts* new data best
and happily picks a K whose extra components only refine the density's shape; K+ asks how
many groups the data *contain* under this prior, and depends on ``e0``: smaller values
favour fewer groups. Neither is "the" number of groups; report the one that answers your
question, and say which prior gave it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bayesmix.model.spec import Priors
from bayesmix.result import MixtureResult
from bayesmix.sampling.fitting import fit

__all__ = ["SPARSE_CONCENTRATION", "fit_sparse"]

#: Malsiner-Walli et al. (2016)'s fixed choice for e0 in univariate mixtures.
SPARSE_CONCENTRATION = 0.01


def fit_sparse(
    data: Any,
    max_components: int = 10,
    *,
    weights_concentration: float = SPARSE_CONCENTRATION,
    priors: Priors | None = None,
    **fit_options: Any,
) -> MixtureResult:
    """Fit an overfitted mixture whose surplus components empty out.

    Parameters
    ----------
    data : array_like
        Observations, as for :func:`bayesmix.fit`.
    max_components : int, default 10
        K_max, comfortably more components than you expect groups.
    weights_concentration : float, default 0.01
        Dirichlet concentration e0; small values empty the surplus components.
    priors : Priors, optional
        Other priors; their ``weights_concentration`` is replaced by the argument above.
    **fit_options
        Passed to :func:`bayesmix.fit` (draws, tune, chains, random_seed, ...).

    Returns
    -------
    MixtureResult
        Use ``res.occupied_components()`` for the posterior of K+; component-wise
        summaries of an overfitted mixture mix occupied and empty components and are
        rarely meaningful on their own.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(300, [0.5, 0.5], [0.0, 6.0], [1.0, 1.0], random_seed=0)
    >>> res = bm.fit_sparse(y, max_components=6, random_seed=1)  # doctest: +SKIP
    >>> res.occupied_components()  # doctest: +SKIP
    """
    base = priors if priors is not None else Priors()
    sparse = dataclasses.replace(base, weights_concentration=weights_concentration)
    return fit(data, max_components, priors=sparse, **fit_options)
