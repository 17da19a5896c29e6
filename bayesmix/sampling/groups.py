"""Groups for ``fit_many``: input to named data sets, per-group seeds, file names, the index.

Everything here is plain and deterministic, so that a group's seed and file depend only
on its name and the run's ``random_seed``, never on scheduling order or the number of
workers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesmix.data import as_observations
from bayesmix.io import replacing

__all__ = [
    "INDEX_NAME",
    "file_name",
    "group_seed",
    "observations_or_error",
    "read_index",
    "to_groups",
    "write_index",
]

#: The index of a ``fit_many`` output folder: group -> file, status, message.
INDEX_NAME = "index.json"


def to_groups(groups: Any, by: str | None = None, column: str | None = None) -> dict[str, Any]:
    """Named data sets from a mapping, a DataFrame with a group column, or an iterable.

    Parameters
    ----------
    groups : mapping, pandas.DataFrame or iterable
        ``{name: data}``; a long DataFrame split by ``by`` (values from ``column``, or
        from its only other numeric column); or an iterable of data sets, named
        ``"0"``, ``"1"``, ...
    by, column : str, optional
        The DataFrame's group column and value column.

    Returns
    -------
    dict of str to array_like
        Data of each group, in input order; names are text. The data are not validated
        here: a group with bad data fails alone, in its own record.
    """
    if isinstance(groups, pd.DataFrame):
        if by is None:
            raise ValueError(
                "groups is a DataFrame: give by= (the column that names the group), e.g. "
                f"by={str(groups.columns[0])!r}; columns: {list(map(str, groups.columns))}"
            )
        if by not in groups.columns:
            raise ValueError(
                f"by={by!r} is not a column; columns: {list(map(str, groups.columns))}"
            )
        column = _value_column(groups, by, column)
        split = groups.groupby(by, sort=False, dropna=False)[column]
        out = {str(name): values.to_numpy() for name, values in split}
    elif by is not None or column is not None:
        raise ValueError("by= and column= apply only when groups is a pandas DataFrame")
    elif isinstance(groups, Mapping):
        out = {str(name): data for name, data in groups.items()}
        if len(out) < len(groups):
            raise ValueError("two group names are equal as text; give distinct names")
    elif isinstance(groups, Iterable) and not isinstance(groups, str | bytes | np.ndarray):
        out = {str(i): data for i, data in enumerate(groups)}
    else:
        raise TypeError(
            "groups must be a mapping name -> data, a pandas DataFrame with by=, or an "
            f"iterable of data sets; got {type(groups).__name__}"
        )
    if not out:
        raise ValueError("groups is empty: there is nothing to fit")
    return out


def _value_column(frame: pd.DataFrame, by: str, column: str | None) -> str:
    if column is not None:
        if column not in frame.columns:
            raise ValueError(
                f"column={column!r} is not a column; columns: {list(map(str, frame.columns))}"
            )
        return column
    numeric = [c for c in frame.select_dtypes("number").columns if c != by]
    if len(numeric) != 1:
        raise ValueError(
            f"give column= (the values to fit): the DataFrame has {len(numeric)} numeric "
            f"columns besides {by!r}: {list(map(str, numeric))}"
        )
    return str(numeric[0])


def group_seed(random_seed: int, name: str) -> int:
    """Return the seed of group ``name``: a hash of the run's seed and the name (32 bits)."""
    digest = hashlib.sha256(f"bayesmix.fit_many\0{random_seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def file_name(name: str) -> str:
    """Return a file name for group ``name``: readable part and hash, so none clash."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60] or "group"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:10]}.nc"


def read_index(folder: Path) -> dict[str, dict[str, Any]]:
    """Read the index of an output folder (empty when there is none or it is unreadable)."""
    try:
        raw = json.loads((folder / INDEX_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    groups = raw.get("groups", {}) if isinstance(raw, dict) else {}
    return {str(k): v for k, v in groups.items() if isinstance(v, dict)}


def write_index(
    folder: Path, entries: Mapping[str, Mapping[str, Any]], run: dict[str, Any]
) -> None:
    """Write the index whole (to a new name, then renamed): never a half-written index."""
    text = json.dumps({"run": run, "groups": entries}, indent=1, sort_keys=False, default=str)
    with replacing(folder / INDEX_NAME) as tmp:
        tmp.write_text(text, encoding="utf-8")


def observations_or_error(data: Any) -> tuple[np.ndarray | None, str | None]:
    """Return validated observations, or the message (the group fails alone)."""
    try:
        return as_observations(data), None
    except (TypeError, ValueError) as err:
        return None, f"{type(err).__name__}: {err}"
