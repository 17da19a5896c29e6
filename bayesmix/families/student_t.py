"""Student-t components: ``y ~ sum_k w_k StudentT(nu_k, mu_k, sigma_k)``, robust to outliers.

Each component has its own degrees of freedom ``nu_k ~ Gamma(nu_shape, nu_rate)``; the
default Gamma(2, 0.1) (mean 20, density 0 at 0) keeps ``nu`` away from both degenerate
ends, the Cauchy-like spike at 0 and the normal limit at infinity, following Juárez &
Steel (2010). Every form of the density bayesmix uses is written here (see
:mod:`bayesmix.families.base`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln

from bayesmix.families.base import Family, Parameter
from bayesmix.families.normal import LOCATION, SCALE
from bayesmix.families.vmath import log_block

__all__ = ["FAMILY"]

_FASTMATH = {"contract", "nsz", "arcp"}
#: Start of every nu: the prior's mode under the default Gamma(2, 0.1).
START_NU = 10.0

DOF = Parameter("nu", "nu", "none", "&nu;")


#: Name of the shared variable holding (shape, rate) of the nu prior.
NU_PRIOR = "nu_prior"


def _hyper_values(priors: Any) -> dict[str, np.ndarray]:
    return {NU_PRIOR: np.array([priors.nu_shape, priors.nu_rate], dtype=np.float64)}


def _declare_extra_priors(hyper: dict[str, Any], k: int) -> dict[str, Any]:
    prior = hyper[NU_PRIOR]
    return {"nu": pm.Gamma("nu", alpha=prior[0], beta=prior[1], dims="component")}


def _component_dist(mu: Any, sigma: Any, nu: Any) -> Any:
    return pm.StudentT.dist(nu=nu, mu=mu, sigma=sigma)


def _log_normaliser(mu: Any, sigma: Any, nu: Any) -> Any:
    half = 0.5 * (nu + 1.0)
    return pt.gammaln(half) - pt.gammaln(0.5 * nu) - 0.5 * pt.log(nu * np.pi) - pt.log(sigma)


@numba.njit(fastmath=_FASTMATH, inline="always")
def _kernel_logpdf(
    z: np.ndarray,
    m: int,
    theta: np.ndarray,
    j: int,
    out: np.ndarray,
    bits: np.ndarray,
    pow2: np.ndarray,
) -> None:
    mu, inv, nu = theta[0, j], 1.0 / theta[1, j], theta[2, j]
    half, inv_nu = -0.5 * (nu + 1.0), 1.0 / nu
    for i in range(m):
        d = (z[i] - mu) * inv
        out[i] = 1.0 + d * d * inv_nu
    log_block(out, bits, pow2, m)  # log(1 + q): q >= 0, so no cancellation to fear
    for i in range(m):
        out[i] *= half


@numba.njit(fastmath=_FASTMATH, inline="always")
def _kernel_grad(
    z: np.ndarray,
    r: np.ndarray,
    m: int,
    theta: np.ndarray,
    j: int,
    g: np.ndarray,
    work: np.ndarray,
    bits: np.ndarray,
    pow2: np.ndarray,
) -> None:
    mu, inv, nu = theta[0, j], 1.0 / theta[1, j], theta[2, j]
    inv_nu = 1.0 / nu
    for i in range(m):
        d = (z[i] - mu) * inv
        work[i] = 1.0 + d * d * inv_nu  # u_i
    g_mu, g_sigma = 0.0, 0.0
    for i in range(m):
        d = (z[i] - mu) * inv
        q = d * d * inv_nu
        w = r[i] / work[i]  # r_i / u_i
        g_mu += w * d
        g_sigma += w * q
    log_block(work, bits, pow2, m)
    g_log = 0.0
    for i in range(m):
        g_log += r[i] * work[i]
    g_nu = g_sigma - g_log
    # d/dmu = (nu+1) d / (sigma nu u); d/dsigma = (nu+1) q / (sigma u);
    # d/dnu = -log(u) / 2 + (nu+1) q / (2 nu u)
    g[0, j] += (nu + 1.0) * inv * inv_nu * g_mu
    g[1, j] += (nu + 1.0) * inv * g_sigma
    g[2, j] += 0.5 * g_nu + 0.5 * inv_nu * g_sigma


def _logpdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray) -> np.ndarray:
    d = (x - mu) / sigma
    half = 0.5 * (nu + 1.0)
    const = gammaln(half) - gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi) - np.log(sigma)
    return const - half * np.log1p(d * d / nu)


def _rvs(
    rng: np.random.Generator, mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray
) -> np.ndarray:
    return mu + sigma * rng.standard_t(nu)


def _start_extra(k: int) -> dict[str, np.ndarray]:
    return {"nu": np.full(k, START_NU)}


def _prior_lines(priors: Any) -> list[tuple[str, str]]:
    shape, rate = priors.nu_shape, priors.nu_rate
    return [
        (
            f"&nu;<sub>k</sub> ~ Gamma(shape {shape:g}, rate {rate:g})",
            f"nu_k ~ Gamma(shape {shape:g}, rate {rate:g})",
        )
    ]


FAMILY = Family(
    name="student_t",
    title="StudentT",
    adjective="Student-t",
    parameters=(LOCATION, SCALE, DOF),
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
