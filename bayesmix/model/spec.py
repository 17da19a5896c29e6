"""What to fit: frozen priors and the mixture specification, resolved against the data.

A prior left as ``None`` is resolved from the data's location and spread and the resolved
number is recorded (scikit-learn's habit), so a user can always see which prior was used
and a fit is equivariant: fitting ``a * y + b`` (``a > 0``) gives the posterior of ``y``
mapped by ``a * . + b``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bayesmix.data.validate import as_observations, check_n_components
from bayesmix.families import Family, get_family

__all__ = ["MixtureSpec", "Priors"]

#: Default prior scale of the component means, in data standard deviations.
MU_SCALE_IN_SD = 2.0
#: Default half-normal scale of the component sigmas, in data standard deviations.
SIGMA_SCALE_IN_SD = 1.0
#: Default Gamma(shape, rate) prior of the Student-t degrees of freedom (Juárez & Steel
#: 2010): mean 20, mode 10, density 0 at 0.
NU_SHAPE, NU_RATE = 2.0, 0.1
#: Prior fields that only the Student-t family has.
_STUDENT_T_FIELDS = ("nu_shape", "nu_rate")

FamilyName = Literal["normal", "student_t"]
SigmaPrior = Literal["halfnormal", "gamma", "invgamma"]
SIGMA_PRIORS: tuple[str, ...] = ("halfnormal", "gamma", "invgamma")


def _check_positive(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a positive number or None")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name}={value!r} must be a positive, finite number")
    return v


@dataclass(frozen=True)
class Priors:
    """Priors of the finite normal mixture, with data-scaled defaults.

    The model is::

        weights ~ Dirichlet(weights_concentration * ones(K))
        mu_k    ~ Normal(mu_loc, mu_scale), ordered so that mu_1 < ... < mu_K
        sigma_k ~ HalfNormal(sigma_scale)                     sigma_prior="halfnormal"
                  Gamma(shape=2, mean=sigma_scale)            sigma_prior="gamma"
                  InverseGamma(shape=3, mean=sigma_scale)     sigma_prior="invgamma"
        nu_k    ~ Gamma(nu_shape, nu_rate)                    family="student_t" only

    Parameters
    ----------
    weights_concentration : float, default 1.0
        Symmetric Dirichlet concentration. 1 is uniform over the simplex; values well below
        1 (e.g. 0.01) favour leaving surplus components empty (a "sparse" mixture).
    mu_loc : float, optional
        Prior mean of the component means. Default: the data mean.
    mu_scale : float, optional
        Prior standard deviation of the component means. Default: ``2 * sd(data)``, wide
        enough to cover every component centre of data whose groups lie inside its range.
    sigma_scale : float, optional
        Scale of the half-normal prior on each component's standard deviation. Default:
        ``sd(data)``; a component cannot be wider than the whole data set, and the
        half-normal leaves room from near zero up to about twice that.
    sigma_prior : {"halfnormal", "gamma", "invgamma"}, default "halfnormal"
        Family of the sigma prior. The half-normal allows sigmas near zero, which is
        right for most data but lets a component collapse onto one or two points (a
        spike: the likelihood is unbounded there), which shows up as divergences. The
        zero-avoiding gamma (density 0 at 0, mode ``sigma_scale / 2``) and inverse gamma
        (vanishing faster at 0, heavy right tail, mode ``sigma_scale / 2``; the choice
        of Richardson & Green 1997 for variances) rule such spikes out. Use one of them
        when a fit reports divergences or a collapsed sigma, or for small data sets with
        many components; the inverse gamma is the stronger repellent.
    nu_shape, nu_rate : float, optional
        Shape and rate of the Gamma prior of each Student-t component's degrees of
        freedom (``family="student_t"`` only; an error for other families). Default
        2 and 0.1 (Juárez & Steel 2010): mean 20, density 0 at 0, so ``nu`` stays away
        from the degenerate spike at 0, and the tail up to the normal limit stays open.

    Examples
    --------
    >>> import bayesmix as bm
    >>> bm.Priors(mu_scale=10.0).resolve([1.0, 2.0, 4.0]).mu_scale
    10.0
    """

    weights_concentration: float = 1.0
    mu_loc: float | None = None
    mu_scale: float | None = None
    sigma_scale: float | None = None
    sigma_prior: SigmaPrior = "halfnormal"
    nu_shape: float | None = None
    nu_rate: float | None = None

    def __post_init__(self) -> None:
        if self.sigma_prior not in SIGMA_PRIORS:
            raise ValueError(
                f"sigma_prior={self.sigma_prior!r} must be one of {list(SIGMA_PRIORS)}"
            )
        _check_positive("weights_concentration", self.weights_concentration, allow_none=False)
        _check_positive("mu_scale", self.mu_scale)
        _check_positive("sigma_scale", self.sigma_scale)
        _check_positive("nu_shape", self.nu_shape)
        _check_positive("nu_rate", self.nu_rate)
        if self.mu_loc is not None and (
            isinstance(self.mu_loc, bool)
            or not isinstance(self.mu_loc, numbers.Real)
            or not math.isfinite(self.mu_loc)
        ):
            raise ValueError(f"mu_loc={self.mu_loc!r} must be a finite number or None")
        # Store plain floats so that resolved priors compare and serialise exactly.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and field.name != "sigma_prior":
                object.__setattr__(self, field.name, float(value))

    def fields_of(self, family: str) -> tuple[str, ...]:
        """Names of the prior fields that ``family`` uses."""
        names = tuple(f.name for f in dataclasses.fields(self))
        if get_family(family).name == "student_t":
            return names
        return tuple(n for n in names if n not in _STUDENT_T_FIELDS)

    def is_resolved_for(self, family: str) -> bool:
        """Whether every prior ``family`` uses is a number (no ``None`` left to fill)."""
        return all(getattr(self, name) is not None for name in self.fields_of(family))

    @property
    def is_resolved(self) -> bool:
        """Whether every prior of the normal family is a number."""
        return self.is_resolved_for("normal")

    def resolve(self, data: Any, family: str = "normal") -> Priors:
        """Fill every ``None`` from the data's mean and standard deviation.

        Parameters
        ----------
        data : array_like
            The observations (validated as in :func:`bayesmix.fit`).
        family : str, default "normal"
            The component family; its own priors (e.g. ``nu_shape``) get their defaults.

        Returns
        -------
        Priors
            A new, fully numeric ``Priors``; numbers given by the user are kept.

        Raises
        ------
        ValueError
            If a prior of another family is set (e.g. ``nu_shape`` with the normal family).
        """
        y = as_observations(data)
        loc, sd = float(np.mean(y)), float(np.std(y))
        resolved = dataclasses.replace(
            self,
            mu_loc=loc if self.mu_loc is None else self.mu_loc,
            mu_scale=MU_SCALE_IN_SD * sd if self.mu_scale is None else self.mu_scale,
            sigma_scale=SIGMA_SCALE_IN_SD * sd if self.sigma_scale is None else self.sigma_scale,
        )
        return resolved.for_family(family)

    def for_family(self, family: str) -> Priors:
        """Give ``family``'s own priors their defaults; refuse those of other families."""
        if get_family(family).name == "student_t":
            return dataclasses.replace(
                self,
                nu_shape=NU_SHAPE if self.nu_shape is None else self.nu_shape,
                nu_rate=NU_RATE if self.nu_rate is None else self.nu_rate,
            )
        foreign = [n for n in _STUDENT_T_FIELDS if getattr(self, n) is not None]
        if foreign:
            raise ValueError(
                f"priors {foreign} apply to family='student_t' only, but family={family!r}; "
                "drop them or fit with family='student_t'"
            )
        return self

    def to_dict(self) -> dict[str, float | str | None]:
        """Return the priors as a plain dict (for files and reports)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MixtureSpec:
    """A finite mixture to fit: number of components, family and resolved priors.

    Parameters
    ----------
    n_components : int
        Number of mixture components K (>= 1).
    priors : Priors, optional
        Priors; ``None`` fields are filled from the data by :meth:`from_data`.
    family : {"normal", "student_t"}, default "normal"
        Component family (see :mod:`bayesmix.families`).

    See Also
    --------
    MixtureSpec.from_data : build a spec with priors resolved against data.
    """

    n_components: int
    priors: Priors = dataclasses.field(default_factory=Priors)
    family: FamilyName = "normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_components", check_n_components(self.n_components))
        if not isinstance(self.priors, Priors):
            raise TypeError(
                f"priors must be a bayesmix.Priors, got {type(self.priors).__name__}; "
                "e.g. priors=bm.Priors(mu_scale=10)"
            )
        get_family(self.family)  # a clear error for an unknown family
        self.priors.for_family(self.family)  # and for priors of another family

    @property
    def components_family(self) -> Family:
        """The :class:`bayesmix.families.Family` of the components."""
        return get_family(self.family)

    @classmethod
    def from_data(
        cls,
        data: Any,
        n_components: int,
        priors: Priors | dict[str, Any] | None = None,
        family: str = "normal",
    ) -> MixtureSpec:
        """Build a spec whose priors are resolved against ``data``.

        Parameters
        ----------
        data : array_like
            The observations.
        n_components : int
            Number of components; at most the number of observations.
        priors : Priors or dict, optional
            Prior overrides; a dict is passed to :class:`Priors` as keyword arguments.
        family : {"normal", "student_t"}, default "normal"
            Component family.

        Returns
        -------
        MixtureSpec
        """
        y = as_observations(data)
        k = check_n_components(n_components, y.size)
        get_family(family)
        if priors is None:
            priors = Priors()
        elif isinstance(priors, dict):
            unknown = set(priors) - {f.name for f in dataclasses.fields(Priors)}
            if unknown:
                raise TypeError(
                    f"priors has unknown key(s) {sorted(unknown)}; valid keys are "
                    f"{[f.name for f in dataclasses.fields(Priors)]}"
                )
            priors = Priors(**priors)
        return cls(n_components=k, priors=priors.resolve(y, family), family=family)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain, JSON-serialisable data."""
        return {
            "n_components": self.n_components,
            "family": self.family,
            "priors": self.priors.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MixtureSpec:
        """Rebuild a spec written by :meth:`to_dict`."""
        return cls(
            n_components=int(d["n_components"]),
            priors=Priors(**d["priors"]),
            family=d.get("family", "normal"),
        )
