"""Normal components: ``y ~ sum_k w_k Normal(mu_k, sigma_k)``.

Every form of the normal density bayesmix uses is written here (see
:mod:`bayesmix.families.base`); nothing else in the package names the distribution.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesmix.families.base import Family, Parameter

__all__ = ["FAMILY"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_FASTMATH = {"contract", "nsz", "arcp"}

LOCATION = Parameter("mu", "mean", "location", "&mu;")
SCALE = Parameter("sigma", "sigma", "scale", "&sigma;")


def _hyper_values(priors: Any) -> dict[str, np.ndarray]:
    return {}


def _declare_extra_priors(hyper: dict[str, Any], k: int) -> dict[str, Any]:
    return {}


def _component_dist(mu: Any, sigma: Any) -> Any:
    return pm.Normal.dist(mu=mu, sigma=sigma)


def _log_normaliser(mu: Any, sigma: Any) -> Any:
    return -pt.log(sigma) - _LOG_SQRT_2PI


@numba.njit(fastmath=_FASTMATH, inline="always")
def _kernel_logpdf(
    z: np.ndarray, m: int, theta: np.ndarray, j: int, out: np.ndarray, bits: Any, pow2: Any
) -> None:
    mu, inv = theta[0, j], 1.0 / theta[1, j]
    for i in range(m):
        d = (z[i] - mu) * inv
        out[i] = -0.5 * d * d


@numba.njit(fastmath=_FASTMATH, inline="always")
def _kernel_grad(
    z: np.ndarray,
    r: np.ndarray,
    m: int,
    theta: np.ndarray,
    j: int,
    g: np.ndarray,
    work: Any,
    bits: Any,
    pow2: Any,
) -> None:
    mu, inv = theta[0, j], 1.0 / theta[1, j]
    g_mu, g_sigma = 0.0, 0.0
    for i in range(m):
        d = (z[i] - mu) * inv
        rd = r[i] * d
        g_mu += rd
        g_sigma += rd * d
    g[0, j] += g_mu * inv
    g[1, j] += g_sigma * inv


def _logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    z = (x - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - _LOG_SQRT_2PI


def _rvs(rng: np.random.Generator, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return rng.normal(mu, sigma)


def _start_extra(k: int) -> dict[str, np.ndarray]:
    return {}


def _prior_lines(priors: Any) -> list[tuple[str, str]]:
    return []


FAMILY = Family(
    name="normal",
    title="Normal",
    adjective="normal",
    parameters=(LOCATION, SCALE),
    hyper_values=_hyper_values,
    declare_extra_priors=_declare_extra_priors,
    component_dist=_component_dist,
    log_normaliser=_log_normaliser,
    kernel_logpdf=_kernel_logpdf,
    kernel_grad=_kernel_grad,
    logpdf=_logpdf,
    rvs=_rvs,
    start_extra=_start_extra,
    prior_lines=_prior_lines,
)
