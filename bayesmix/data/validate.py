"""Input validation: anything array-like becomes a checked 1-D float64 array.

Every check on user data lives here, so the later stages can trust what they get and a
mistake is reported where it was made, never from deep inside PyTensor.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_observations", "check_n_components"]


def _plain(value: Any) -> Any:
    """NumPy scalars as Python scalars, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _show(value: Any) -> str:
    return repr(_plain(value))[:40]


def _to_array(data: Any, name: str) -> np.ndarray:
    """Convert lists, arrays, pandas and xarray objects to a NumPy array, unvalidated."""
    if data is None:
        raise TypeError(f"{name} is None; pass a 1-D sequence of numbers")
    if isinstance(data, str | bytes):
        raise TypeError(
            f"{name} is a {type(data).__name__} ({data!r:.40}); pass a 1-D sequence of "
            "numbers, not a string (to read a file, use the command line or pandas.read_csv)"
        )
    if isinstance(data, dict):
        raise TypeError(f"{name} is a dict; pass a 1-D sequence of numbers")
    # pandas DataFrame: accept exactly one column.
    columns = getattr(data, "columns", None)
    if columns is not None and hasattr(data, "iloc"):
        if len(columns) != 1:
            raise ValueError(
                f"{name} is a DataFrame with {len(columns)} columns {list(columns)[:5]}; "
                "select one column, e.g. df['waiting']"
            )
        data = data.iloc[:, 0]
    # pandas Series / xarray DataArray / anything with .to_numpy().
    if hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):
        data = data.to_numpy()
    if isinstance(data, list | tuple):
        # Object dtype keeps each element's own type, so a stray string is reported as
        # itself instead of turning every number into text.
        data = np.array(data, dtype=object) if data else np.array([], dtype=np.float64)
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as err:
        raise TypeError(
            f"{name} could not be read as an array of numbers ({err}); pass a 1-D "
            "sequence of numbers"
        ) from err


def _as_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Cast to float64, naming the first non-numeric element if the cast fails."""
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} holds booleans; pass numbers (e.g. data.astype(float))")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} holds complex numbers; pass real numbers")
    if arr.dtype.kind in "US":
        raise TypeError(
            f"{name} holds text (dtype {arr.dtype}), first value {_show(arr.flat[0])}; "
            "convert it to numbers first (e.g. pandas.to_numeric)"
        )
    flat = arr.ravel()
    for i, value in enumerate(flat):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
        if isinstance(value, str | bytes | np.str_ | np.bytes_):
            raise TypeError(
                f"{name} holds text ({_show(value)} at position {i}); strings are not "
                "accepted: convert them to numbers first (e.g. [float(v) for v in data] or "
                "pandas.to_numeric)"
            )
        if not ok and value is not None:
            raise TypeError(
                f"{name} holds a non-numeric value {_show(value)} (type "
                f"{type(_plain(value)).__name__}) at position {i}; every value must be a "
                "number"
            )
    out = np.array([np.nan if v is None else v for v in flat], dtype=np.float64)
    return out.reshape(arr.shape)


def as_observations(data: Any, *, name: str = "data") -> np.ndarray:
    """Validate observations and return them as a 1-D float64 array.

    Parameters
    ----------
    data : array_like
        A list, tuple, NumPy array, pandas Series, one-column pandas DataFrame or xarray
        DataArray of real numbers. Arrays of shape ``(n, 1)`` or ``(1, n)`` are flattened.
    name : str, default "data"
        The name used for the input in error messages.

    Returns
    -------
    numpy.ndarray
        A new, C-contiguous, float64 array of shape ``(n,)``.

    Raises
    ------
    TypeError
        If the input is not numeric (strings, booleans, objects, complex numbers).
    ValueError
        If it is empty, has more than one non-trivial dimension, holds NaN or infinite
        values, or is constant.

    Examples
    --------
    >>> from bayesmix.data.validate import as_observations
    >>> as_observations([1, 2, 3.5])
    array([1. , 2. , 3.5])
    """
    arr = _to_array(data, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} is a single number ({_show(arr.item())}); pass a 1-D sequence")
    if arr.ndim > 1:
        non_trivial = [s for s in arr.shape if s != 1]
        if len(non_trivial) > 1:
            raise ValueError(
                f"{name} has shape {arr.shape} but must be one-dimensional; bayesmix fits "
                "univariate mixtures, so pass one variable (e.g. one column)"
            )
        arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one observation per component")
    y = _as_float(arr, name)
    bad = ~np.isfinite(y)
    if bad.any():
        n_nan = int(np.isnan(y).sum())
        n_inf = int(bad.sum()) - n_nan
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} holds {n_nan} NaN and {n_inf} infinite value(s) out of {y.size}; the "
            f"first is at position {first}; drop or impute them before fitting"
        )
    if y.size == 1:
        raise ValueError(
            f"{name} has only 1 observation ({_show(y[0])}); a mixture needs at least 2 "
            "observations with some spread"
        )
    if np.ptp(y) == 0:
        raise ValueError(
            f"{name} is constant (all {y.size} values equal {_show(y[0])}); a mixture needs "
            "data with some spread"
        )
    return np.ascontiguousarray(y)


def check_n_components(n_components: Any, n_obs: int | None = None) -> int:
    """Check that ``n_components`` is a positive integer not above the number of observations.

    Parameters
    ----------
    n_components : int
        The number of mixture components requested.
    n_obs : int, optional
        The number of observations; when given, ``n_components`` may not exceed it.

    Returns
    -------
    int
        ``n_components`` as a Python int.

    Raises
    ------
    TypeError
        If ``n_components`` is not an integer.
    ValueError
        If it is below 1 or above ``n_obs``.
    """
    if isinstance(n_components, bool | np.bool_) or not isinstance(n_components, numbers.Integral):
        if isinstance(n_components, float) and n_components.is_integer():
            n_components = int(n_components)
        else:
            raise TypeError(
                f"n_components={n_components!r} must be a positive integer, e.g. n_components=2"
            )
    k = int(n_components)
    if k < 1:
        raise ValueError(f"n_components={k} must be a positive integer (at least 1)")
    if n_obs is not None and k > n_obs:
        raise ValueError(
            f"n_components={k} but only {n_obs} observations; need at least "
            "n_components observations"
        )
    return k
