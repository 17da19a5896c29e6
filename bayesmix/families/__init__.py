"""Component families: one module each, the only place a family's mathematics is written.

- :mod:`bayesmix.families.normal`: ``Normal(mu_k, sigma_k)`` components.
- :mod:`bayesmix.families.student_t`: ``StudentT(nu_k, mu_k, sigma_k)`` components.

:mod:`bayesmix.families.base` says what a family holds; :mod:`bayesmix.families.fused`
turns any family into the fused log-likelihood the model samples.
"""

from __future__ import annotations

from bayesmix.families import normal, student_t
from bayesmix.families.base import Family, Parameter

__all__ = ["FAMILIES", "Family", "Parameter", "get_family"]

#: The families by the name users pass as ``family=``.
FAMILIES: dict[str, Family] = {f.name: f for f in (normal.FAMILY, student_t.FAMILY)}


def get_family(name: str) -> Family:
    """Return the family called ``name``, or raise a ValueError listing the choices."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"family={name!r} is not one of {sorted(FAMILIES)}")
    return FAMILIES[name]
