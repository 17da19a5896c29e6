"""Sampling: settings, NUTS on a model (``sample``), ``fit``, ``compare``, ``fit_many``."""

from bayesmix.sampling.comparison import compare
from bayesmix.sampling.fitting import fit
from bayesmix.sampling.many import fit_many
from bayesmix.sampling.manyfits import GroupRecord, ManyFits
from bayesmix.sampling.nuts import LOG_LIK_MAX_VALUES, LOG_LIK_STORE_MAX_VALUES, sample
from bayesmix.sampling.selection import Comparison, LOOWarning
from bayesmix.sampling.settings import (
    SAMPLERS,
    Sampler,
    SamplerSettings,
    SamplingError,
    resolve_sampler,
)
from bayesmix.sampling.sparse import fit_sparse

__all__ = [
    "LOG_LIK_MAX_VALUES",
    "LOG_LIK_STORE_MAX_VALUES",
    "SAMPLERS",
    "Comparison",
    "GroupRecord",
    "LOOWarning",
    "ManyFits",
    "Sampler",
    "SamplerSettings",
    "SamplingError",
    "compare",
    "fit",
    "fit_many",
    "fit_sparse",
    "resolve_sampler",
    "sample",
]
