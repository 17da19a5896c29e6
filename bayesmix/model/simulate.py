"""Seeded synthetic mixtures with known truth, for tests, examples and calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesmix.families import get_family

__all__ = ["simulate_mixture"]


def simulate_mixture(
    n: int,
    weights: Sequence[float],
    means: Sequence[float],
    sigmas: Sequence[float],
    random_seed: int | np.random.Generator | None = None,
    *,
    family: str = "normal",
    nu: Sequence[float] | None = None,
    return_labels: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` observations from a finite mixture of normal or Student-t components.

    Parameters
    ----------
    n : int
        Number of observations.
    weights : sequence of float
        Component weights; non-negative, summing to 1 (within 1e-8).
    means, sigmas : sequence of float
        Component means and (positive) standard deviations, same length as ``weights``.
    random_seed : int or numpy.random.Generator, optional
        Seed or generator; the same seed gives the same data.
    family : {"normal", "student_t"}, default "normal"
        Component family; draws come from the family's ``rvs``.
    nu : sequence of float, optional
        Degrees of freedom of each Student-t component (``family="student_t"`` only).
    return_labels : bool, default False
        Also return each observation's component.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        The observations, shape (n,), and with ``return_labels`` the labels, shape (n,).

    Raises
    ------
    ValueError
        If the lengths differ, weights are not a probability vector, a sigma or nu is
        not positive, or ``nu`` is missing for (or given to) the wrong family.

    Examples
    --------
    >>> import bayesmix as bm
    >>> y = bm.simulate_mixture(1000, [0.6, 0.4], [1.0, 5.0], [1.0, 2.0], random_seed=0)
    >>> y.shape
    (1000,)
    """
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    sd = np.asarray(sigmas, dtype=np.float64)
    if not (w.ndim == mu.ndim == sd.ndim == 1 and w.size == mu.size == sd.size > 0):
        raise ValueError(
            f"weights, means and sigmas must be 1-D of one length, got lengths "
            f"{w.size}, {mu.size}, {sd.size}"
        )
    if (w < 0).any() or abs(w.sum() - 1.0) > 1e-8:
        raise ValueError(f"weights={list(w)} must be non-negative and sum to 1")
    if not (np.isfinite(sd).all() and (sd > 0).all()) or not np.isfinite(mu).all():
        raise ValueError("means must be finite and sigmas positive and finite")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer")
    fam = get_family(family)
    params = [mu, sd]
    if fam.name == "student_t":
        if nu is None:
            raise ValueError("family='student_t' needs nu, the degrees of freedom per component")
        dof = np.asarray(nu, dtype=np.float64)
        if dof.shape != mu.shape or not (np.isfinite(dof).all() and (dof > 0).all()):
            raise ValueError(f"nu={nu!r} must hold {mu.size} positive, finite numbers")
        params.append(dof)
    elif nu is not None:
        raise ValueError(f"nu is for family='student_t' only, not family={family!r}")
    rng = np.random.default_rng(random_seed)
    labels = rng.choice(w.size, size=int(n), p=w / w.sum())
    y = fam.rvs(rng, *(p[labels] for p in params))
    return (y, labels) if return_labels else y
