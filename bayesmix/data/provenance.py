"""Provenance of a fit: the data's fingerprint and the versions of what computed it."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform

import numpy as np

__all__ = ["data_fingerprint", "package_versions"]


def data_fingerprint(y: np.ndarray) -> str:
    """SHA-256 of the float64 bytes of the observations."""
    return hashlib.sha256(np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a fit depends on."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Read once per process: importlib.metadata scans site-packages (~10 ms a call)."""
    out = {"python": platform.python_version()}
    for name in (
        "bayesmix",
        "pymc",
        "pytensor",
        "arviz",
        "arviz-base",
        "arviz-stats",
        "numpy",
        "scipy",
        "xarray",
        "nutpie",
        "numpyro",
        "jax",
    ):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out
