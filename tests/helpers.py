"""Results built from known arrays, for testing reporting code without NUTS."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from arviz_base import from_dict

import bayesmix as bm


def fake_result(
    y: np.ndarray,
    weights: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    *,
    diverging: np.ndarray | None = None,
) -> bm.MixtureResult:
    """A MixtureResult whose posterior holds exactly the given (chain, draw, K) arrays."""
    chains, draws, k = weights.shape
    spec = bm.MixtureSpec.from_data(y, k)
    if diverging is None:
        diverging = np.zeros((chains, draws), dtype=bool)
    tree = from_dict(
        {
            "posterior": {"weights": weights, "mu": mu, "sigma": sigma},
            "observed_data": {"y": y},
            "sample_stats": {"diverging": diverging},
        },
        dims={"weights": ["component"], "mu": ["component"], "sigma": ["component"], "y": ["obs"]},
        coords={"component": np.arange(k), "obs": np.arange(y.size)},
        attrs={"/": {"bayesmix_spec": json.dumps(spec.to_dict())}},
    )
    return bm.MixtureResult(tree)


def iid_posterior(
    rng: np.random.Generator,
    weights: list[float],
    mu: list[float],
    sigma: list[float],
    chains: int = 4,
    draws: int = 500,
    spread: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent draws scattered around given values: a well-mixed fake posterior."""
    k = len(weights)
    shape = (chains, draws, k)
    w = np.asarray(weights) * np.exp(rng.normal(0, spread, shape))
    w /= w.sum(axis=-1, keepdims=True)
    m = np.sort(np.asarray(mu) + rng.normal(0, spread, shape), axis=-1)
    s = np.asarray(sigma) * np.exp(rng.normal(0, spread, shape))
    return w, m, s


def record_calls(monkeypatch: Any, module: Any, name: str) -> list[tuple[Any, ...]]:
    """Wrap ``module.name`` so that each call's arguments are recorded; return the record."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(module, name)

    def recorded(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(module, name, recorded)
    return calls
