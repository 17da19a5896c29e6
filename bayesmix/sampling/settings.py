"""Sampler settings: which NUTS, how long, which seed; checked where they enter."""

from __future__ import annotations

import importlib.util
import numbers
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["SAMPLERS", "Sampler", "SamplerSettings", "SamplingError", "resolve_sampler"]

Sampler = Literal["auto", "pymc", "nutpie", "numpyro", "blackjax"]
SAMPLERS: tuple[str, ...] = ("auto", "pymc", "nutpie", "numpyro", "blackjax")
#: Python module each optional sampler needs.
_SAMPLER_MODULE = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}


class SamplingError(RuntimeError):
    """The sampler could not run (e.g. no valid start); the message says what to try."""


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def resolve_sampler(sampler: str) -> str:
    """Return the concrete sampler for ``sampler``, checking that it is installed."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not one of {list(SAMPLERS)}")
    if sampler == "auto":
        return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"
    module = _SAMPLER_MODULE.get(sampler)
    if module is not None and importlib.util.find_spec(module) is None:
        raise ImportError(
            f"sampler={sampler!r} needs the package {module!r}, which is not installed; "
            "install it with `pip install 'bayesmix[fast]'` (numpyro, blackjax) or "
            "`pip install nutpie`, or use sampler='pymc'"
        )
    return sampler


@dataclass(frozen=True)
class SamplerSettings:
    """How the posterior was sampled; recorded with every fit.

    Parameters
    ----------
    draws, tune, chains : int
        Post-tuning draws per chain, tuning steps per chain, number of chains.
    target_accept : float
        NUTS target acceptance rate, in (0, 1).
    random_seed : int
        The seed actually used (drawn from the OS if the user gave none).
    sampler : str
        The concrete sampler: "pymc", "nutpie" or "numpyro".
    cores : int or None
        Chains run in parallel on this many cores (None: PyMC's default).
    """

    draws: int
    tune: int
    chains: int
    target_accept: float
    random_seed: int
    sampler: str
    cores: int | None = None

    def __post_init__(self) -> None:
        _positive_int("draws", self.draws)
        _positive_int("chains", self.chains)
        if isinstance(self.tune, bool) or not isinstance(self.tune, numbers.Integral):
            raise ValueError(f"tune={self.tune!r} must be a non-negative integer")
        if self.tune < 0:
            raise ValueError(f"tune={self.tune!r} must be a non-negative integer")
        if not 0.0 < float(self.target_accept) < 1.0:
            raise ValueError(f"target_accept={self.target_accept!r} must lie in (0, 1)")
        if self.cores is not None:
            _positive_int("cores", self.cores)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain, JSON-serialisable data."""
        return asdict(self)


def random_seed_of(random_seed: int | None) -> int:
    """Return the seed to use: ``random_seed`` checked, or one drawn from the OS if None."""
    if random_seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, numbers.Integral):
        raise TypeError(f"random_seed={random_seed!r} must be an integer or None")
    if random_seed < 0:
        raise ValueError(f"random_seed={random_seed!r} must be non-negative")
    return int(random_seed)
