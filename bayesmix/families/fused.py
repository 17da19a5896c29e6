"""The fused mixture log-likelihood of any family, as a PyTensor Op with its gradient.

``pm.Mixture`` builds an (N, K) matrix of component log densities, a log-sum-exp over it
and, for the gradient, the softmax of that matrix again: several passes over N x K
temporaries (at N = 10^4, K = 3, nutpie samples it 2.7x slower for the normal family, 6x
for the Student-t; ``benchmarks/README.md``). The kernel here visits each observation
once, keeps the K terms of a block of observations in small arrays and accumulates the
log-likelihood and its gradient together.

It is generic: a family gives ``kernel_logpdf`` and ``kernel_grad`` (its log density up
to a per-component constant, and that part's gradient, for a block of observations
with the component's constants hoisted out of the loop) as numba functions, and the
constant, with the log-weights, enters as the Op's input ``a`` (a PyTensor expression,
so PyTensor differentiates it, Γ functions included). The Op computes

    sum_i log sum_k exp(a_k + f(z_i | theta_k)),   z_i = (y_i - loc) / scale,

and returns ``(value, d/da, d/dtheta)``; its gradient reuses the last two outputs, so the
compiled ``logp_dlogp`` runs the kernel once per evaluation. ``tests/test_families.py``
checks value and gradient against ``pm.logp`` of ``pm.Mixture`` for every family.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import sys
from collections.abc import Sequence
from functools import cache
from typing import Any, cast

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from bayesmix.families import get_family, vmath
from bayesmix.families.vmath import exponentiate_block

__all__ = ["FusedMixtureLogLik", "fused_loglik"]

#: Observations per block. The K terms of a block sit in small arrays that LLVM
#: vectorises over; the block's sums are multiplied (each lies in [1, K], so 64 of them
#: stay far from overflow for any K < 10^4) and logged once per block.
_BLOCK = 64
#: Contraction into FMA and reciprocals; no reassociation, so sums keep their order.
_FASTMATH = {"contract", "nsz", "arcp"}


@cache
def _kernel(family_name: str) -> Any:
    """Return the numba kernel of ``family_name``, compiled once per process."""
    family = get_family(family_name)
    logpdf, grad = family.kernel_logpdf, family.kernel_grad

    # error_model="numpy": divisions skip the zero check that keeps loops from vectorising
    @numba.njit(fastmath=_FASTMATH, nogil=True, error_model="numpy")
    def kernel(
        y: np.ndarray, loc: float, scale: float, a: np.ndarray, theta: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        n_params, k = theta.shape
        n = y.shape[0]
        inv_scale = 1.0 / scale
        terms, z = np.empty((k, _BLOCK)), np.empty(_BLOCK)
        top, total_b, inv_s = np.empty(_BLOCK), np.empty(_BLOCK), np.empty(_BLOCK)
        resp, work = np.empty(_BLOCK), np.empty(_BLOCK)
        bits = np.empty(_BLOCK, dtype=np.int64)
        pow2 = bits.view(np.float64)
        g_a, g_theta = np.zeros(k), np.zeros((n_params, k))
        total = 0.0
        for start in range(0, n, _BLOCK):
            m = min(_BLOCK, n - start)
            for i in range(m):
                z[i] = (y[start + i] - loc) * inv_scale
                top[i] = -np.inf
            for j in range(k):
                row = terms[j]
                logpdf(z, m, theta, j, row, bits, pow2)
                aj = a[j]
                for i in range(m):
                    t = row[i] + aj
                    row[i] = t
                    top[i] = max(top[i], t)
            exponentiate_block(terms, top, total_b, bits, pow2, k, m)
            prod = 1.0
            for i in range(m):
                prod *= total_b[i]
                total += top[i]
                inv_s[i] = 1.0 / total_b[i]
            total += math.log(prod)
            for j in range(k):
                ga = 0.0
                for i in range(m):
                    r = terms[j, i] * inv_s[i]  # responsibility of component j for z_i
                    resp[i] = r
                    ga += r
                g_a[j] += ga
                grad(z, resp, m, theta, j, g_theta, work, bits, pow2)
        return total, g_a, g_theta

    return kernel


class FusedMixtureLogLik(Op):
    """``loglik(y, (loc, scale), a, theta)`` of one family, with its gradient as outputs."""

    __props__ = ("family_name",)

    def __init__(self, family_name: str) -> None:
        self.family_name = family_name

    def make_node(self, *args: Any) -> Apply:
        """Build the node from y (N,), (loc, scale), a (K,) and theta (P, K)."""
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in args]
        if len(inputs) != 4 or [v.ndim for v in inputs] != [1, 1, 1, 2]:
            raise ValueError("FusedMixtureLogLik takes y (N,), (loc, scale), a (K,), theta (P, K)")
        outputs = [pt.dscalar(), pt.dvector(), pt.dmatrix()]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        """Evaluate the kernel (PyMC's C and Python linkers)."""
        y, (loc, scale), a, theta = (np.ascontiguousarray(v, dtype=np.float64) for v in inputs)
        total, g_a, g_theta = _kernel(self.family_name)(y, loc, scale, a, theta)
        output_storage[0][0] = np.asarray(total)
        output_storage[1][0] = g_a
        output_storage[2][0] = g_theta

    def infer_shape(self, node: Apply, shapes: list[Any]) -> list[Any]:
        """Shapes of the value, d/da and d/dtheta."""
        return [(), shapes[2], shapes[3]]

    def pullback(
        self, inputs: Sequence[Variable], outputs: Sequence[Variable], output_grads: Sequence[Any]
    ) -> list[Variable]:
        """Gradient: the kernel's own derivative outputs, scaled by the output gradient."""
        if any(not isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            raise NotImplementedError("FusedMixtureLogLik has no second derivatives")
        g = output_grads[0]
        no_grad = [grad_not_implemented(self, i, inputs[i]) for i in (0, 1)]
        return [*no_grad, g * outputs[1], g * outputs[2]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Every input reaches the value only."""
        # The gradient outputs are not differentiable; declaring them disconnected lets
        # PyTensor pass DisconnectedType for them instead of zeros.
        return [[True, False, False] for _ in node.inputs]


def fused_loglik(
    family_name: str, y: Any, standardise: Any, a: Any, theta: Any
) -> pt.TensorVariable:
    """Return ``sum_i log sum_k exp(a_k + f(z_i | theta_k))`` as a scalar tensor.

    Parameters
    ----------
    family_name : str
        The family whose ``kernel_logpdf`` is ``f``.
    y : tensor_like, shape (N,)
        Observations. Pass data as shared variables rather than constants: numba
        compiles a kernel fed from a large embedded constant ~4x slower, and a graph
        without data constants is reused for any data set.
    standardise : tensor_like, shape (2,)
        ``(loc, scale)``: the mixture is that of ``z = (y - loc) / scale``.
    a : tensor_like, shape (K,)
        Log-weights plus the family's log normalisers, on the z scale.
    theta : tensor_like, shape (P, K)
        The family's parameters on the z scale, one row per parameter.
    """
    outputs = FusedMixtureLogLik(family_name)(y, standardise, a, theta)
    assert isinstance(outputs, list)
    return cast(pt.TensorVariable, outputs[0])


@cache
def _source_key(family_name: str) -> str:
    """Return a digest of the source the kernel of ``family_name`` is compiled from.

    PyTensor caches compiled graphs on disk under a key of the Op's props; a kernel
    edited since (or a family module changed by an upgrade) must not run from that cache,
    so the key covers this module, ``vmath`` and the family's module.
    """
    family_module = sys.modules[get_family(family_name).kernel_logpdf.py_func.__module__]
    digest = hashlib.sha256()
    for module in (sys.modules[__name__], vmath, family_module):
        digest.update(inspect.getsource(module).encode())
    return f"bayesmix.FusedMixtureLogLik({family_name!r}):{digest.hexdigest()}"


@register_funcify_and_cache_key(FusedMixtureLogLik)
def _numba_fused(op: FusedMixtureLogLik, **kwargs: Any) -> tuple[Any, str]:
    kernel = _kernel(op.family_name)

    @numba.njit(nogil=True)
    def fused_numba(
        y: np.ndarray, standardise: np.ndarray, a: np.ndarray, theta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Contiguous copies (free when already so) let the kernel compile for unit
        # strides, which it needs to vectorise.
        total, g_a, g_theta = kernel(
            np.ascontiguousarray(y),
            standardise[0],
            standardise[1],
            np.ascontiguousarray(a),
            np.ascontiguousarray(theta),
        )
        return np.asarray(total), g_a, g_theta

    return fused_numba, _source_key(op.family_name)
