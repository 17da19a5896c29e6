"""Input validation: every accepted type, and each bad input's message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.data.validate import as_observations, check_n_components

VALUES = [1.0, 2.5, 4.0, 8.0]


@pytest.mark.parametrize(
    "data",
    [
        VALUES,
        tuple(VALUES),
        np.array(VALUES),
        np.array(VALUES, dtype=np.float32),
        np.array([1.0, 2.5, 4.0, 8.0], dtype=np.float16),
        np.array(VALUES)[:, None],
        np.array(VALUES)[None, :],
        pd.Series(VALUES, name="waiting"),
        pd.DataFrame({"waiting": VALUES}),
        xr.DataArray(VALUES, dims="obs"),
        np.array(VALUES, dtype=object),
    ],
    ids=[
        "list",
        "tuple",
        "f64",
        "f32",
        "f16",
        "col",
        "row",
        "series",
        "frame",
        "xarray",
        "object",
    ],
)
def test_accepted_inputs_become_1d_float64(data: object) -> None:
    y = as_observations(data)
    assert y.dtype == np.float64
    assert y.shape == (4,)
    np.testing.assert_allclose(y, [1.0, 2.5, 4.0, 8.0])


def test_integers_are_accepted() -> None:
    y = as_observations(np.array([1, 2, 4, 8], dtype=np.int16))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [1.0, 2.0, 4.0, 8.0])


def test_returns_a_copy_not_a_view() -> None:
    x = np.array(VALUES)
    y = as_observations(x)
    y[0] = 99.0
    assert x[0] == 1.0


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ([], ValueError, r"data is empty"),
        (np.empty((0,)), ValueError, r"data is empty"),
        (["a", "b"], TypeError, r"holds text \('a' at position 0\); strings are not accepted"),
        (["1.0", "2.5"], TypeError, r"strings are not accepted: convert them .*float\(v\)"),
        (np.array(["1.5", "x"]), TypeError, r"holds text \(dtype <U3\), first value '1.5'"),
        ([1.0, 2.0, "x"], TypeError, r"holds text \('x' at position 2\)"),
        ([1.0, 2.0, object()], TypeError, r"non-numeric value .* \(type object\) at position 2"),
        ("1,2,3", TypeError, r"not a string"),
        (None, TypeError, r"data is None"),
        ({"a": 1}, TypeError, r"dict"),
        ([True, False, True], TypeError, r"value True \(type bool\) at position 0"),
        (np.array([True, False]), TypeError, r"holds booleans"),
        ([1 + 2j, 3j], TypeError, r"complex"),
        (
            [1.0, np.nan, 3.0, np.nan],
            ValueError,
            r"2 NaN and 0 infinite .* first is at position 1",
        ),
        ([1.0, 2.0, np.inf], ValueError, r"0 NaN and 1 infinite .* first is at position 2"),
        ([1.0, None, 3.0], ValueError, r"1 NaN .* position 1"),
        (np.ones((3, 2)), ValueError, r"shape \(3, 2\) but must be one-dimensional"),
        (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), ValueError, r"2 columns \['a', 'b'\]"),
        ([3.0, 3.0, 3.0], ValueError, r"constant \(all 3 values equal 3.0\)"),
        ([3.0], ValueError, r"only 1 observation \(3.0\); a mixture needs at least 2"),
        (5.0, ValueError, r"single number"),
    ],
)
def test_bad_input_messages(data: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        as_observations(data)


@pytest.mark.parametrize(
    ("k", "error", "match"),
    [
        (0, ValueError, r"n_components=0 must be a positive integer"),
        (-2, ValueError, r"n_components=-2"),
        (2.5, TypeError, r"n_components=2.5 must be a positive integer"),
        ("2", TypeError, r"n_components='2'"),
        (True, TypeError, r"n_components=True"),
        (None, TypeError, r"n_components=None"),
    ],
)
def test_bad_n_components(k: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        check_n_components(k, 10)


def test_integral_float_n_components_is_accepted() -> None:
    assert check_n_components(3.0, 10) == 3
    assert check_n_components(np.int64(2), 10) == 2


def test_fewer_observations_than_components() -> None:
    with pytest.raises(ValueError, match=r"n_components=5 but only 3 observations"):
        check_n_components(5, 3)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        ([1.0, 2.0, 3.0], {"n_components": 5}, ValueError, r"n_components=5 but only 3"),
        ([1.0, np.nan], {}, ValueError, r"NaN"),
        ([1.0, 2.0, 3.0], {"n_components": 0}, ValueError, r"n_components=0"),
        ([1.0, 2.0, 3.0], {"draws": 0}, ValueError, r"draws=0 must be a positive integer"),
        ([1.0, 2.0, 3.0], {"tune": -1}, ValueError, r"tune=-1"),
        ([1.0, 2.0, 3.0], {"chains": 1.5}, ValueError, r"chains=1.5"),
        ([1.0, 2.0, 3.0], {"target_accept": 1.2}, ValueError, r"target_accept=1.2"),
        ([1.0, 2.0, 3.0], {"sampler": "stan"}, ValueError, r"sampler='stan' is not one of"),
        ([1.0, 2.0, 3.0], {"random_seed": "x"}, TypeError, r"random_seed='x'"),
        ([1.0, 2.0, 3.0], {"priors": {"mu_sd": 1}}, TypeError, r"unknown key\(s\) \['mu_sd'\]"),
        ([1.0, 2.0, 3.0], {"priors": {"mu_scale": -1}}, ValueError, r"mu_scale=-1"),
    ],
)
def test_fit_rejects_bad_arguments_before_sampling(
    data: object, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        bm.fit(data, progressbar=False, **kwargs)  # type: ignore[arg-type]
