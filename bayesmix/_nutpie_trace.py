"""nutpie's raw Arrow trace to a DataTree, for bayesmix's own model.

``nutpie.sample`` turns its Arrow trace into a DataTree through ``arviz.from_dict`` with
empty warm-up groups: ~30-50 ms at 4 x 1000 draws, a tenth of a whole fit at
N = 10^3. The model's variables are known here (five vectors over ``component``), so
the groups are built directly: the same variables, values, dims and attrs as nutpie's
(tested), in ~3 ms.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Any

import numpy as np
import pyarrow as pa
import xarray as xr

__all__ = ["library_attrs", "trace_to_tree"]

#: Per-draw columns of the stats batch that are coordinates, not statistics.
_INDEX_COLUMNS = ("chain", "draw")


@functools.cache
def _library_version(name: str) -> dict[str, str]:
    """ArviZ's ``inference_library`` attrs for a library, read once per process."""
    from arviz_base import make_attrs

    attrs = make_attrs(inference_library=importlib.import_module(name))
    return {k: v for k, v in attrs.items() if k.startswith("inference_library")}


def library_attrs(
    library: str, attrs: dict[str, Any] | None = None, sample_dims: list[str] | None = None
) -> dict[str, Any]:
    """``arviz_base.make_attrs(attrs, inference_library=library, sample_dims=...)``.

    The same attrs, without the package-metadata lookups ArviZ makes on every call
    (~0.6 ms each, three per fit).
    """
    from arviz_base import make_attrs

    return {**make_attrs(sample_dims=sample_dims), **_library_version(library), **(attrs or {})}


def _column(table: pa.Table, name: str) -> np.ndarray:
    """One column of an Arrow table as NumPy, nulls filled as nutpie fills them."""
    arr = table.column(name).combine_chunks()
    if isinstance(arr.type, pa.LargeListType | pa.ListType):
        flat = arr.flatten().to_numpy(zero_copy_only=False)
        return np.asarray(flat).reshape(len(arr), -1)
    if arr.null_count and (pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type)):
        arr = arr.fill_null(0)  # nutpie starts such columns from zeros
    values = arr.to_numpy(zero_copy_only=False)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return np.asarray(values, dtype=object)
    return np.asarray(values)


def trace_to_tree(
    raw: Any, names: list[str], n_components: int, settings: dict[str, Any]
) -> xr.DataTree:
    """Posterior and sample stats of the post-tuning draws of nutpie's raw trace.

    Parameters
    ----------
    raw : nutpie's trace object
        What ``nutpie.sample(..., return_raw_trace=True)`` returns.
    names : list of str
        The posterior variables, each a vector over ``component``.
    n_components : int
        K.
    settings : dict
        nutpie's settings (``sampler._settings.as_dict()``), recorded as nutpie does.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` and ``sample_stats``.
    """
    from arviz_base import make_attrs

    draw_batches, stat_batches = raw.get_arrow_trace()
    # the chains' batches as one table each: a column converts once, not once per chain
    draws = pa.Table.from_batches([pa.record_batch(b) for b in draw_batches])
    stat = pa.Table.from_batches([pa.record_batch(b) for b in stat_batches])
    rows = [b.num_rows for b in stat_batches]
    tuning = np.split(_column(stat, "tuning"), np.cumsum(rows)[:-1])
    n_draws = min(n - int(t.sum()) for n, t in zip(rows, tuning, strict=True))
    # each chain's first n_draws post-tuning rows (all of them, unless sampling was
    # interrupted), chains stacked
    starts = np.cumsum([0, *rows[:-1]]) + [int(t.sum()) for t in tuning]
    keep = (starts[:, None] + np.arange(n_draws)).ravel()
    n_chains = len(rows)
    stat_names = [
        field.name
        for field in stat.schema
        if field.name not in _INDEX_COLUMNS
        and not isinstance(field.type, pa.LargeListType | pa.ListType)
    ]
    posterior = {name: _column(draws, name)[keep].reshape(n_chains, n_draws, -1) for name in names}
    stats = {name: _column(stat, name)[keep].reshape(n_chains, n_draws) for name in stat_names}
    chain, draw = np.arange(n_chains), np.arange(n_draws)
    coords = {"chain": chain, "draw": draw, "component": np.arange(n_components)}
    dims = ("chain", "draw", "component")
    post = xr.Dataset(
        {name: (dims, values) for name, values in posterior.items()},
        coords=coords,
        attrs=make_attrs(sample_dims=list(dims[:2])),
    )
    sample_stats = xr.Dataset(
        {name: (dims[:2], values) for name, values in stats.items()},
        coords={"chain": chain, "draw": draw},
        attrs=library_attrs(
            "nutpie",
            {"inference_library_settings": json.dumps(settings)},
            sample_dims=list(dims[:2]),
        ),
    )
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": sample_stats})
