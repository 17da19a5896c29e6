"""Bundled data sets: contents, types, provenance and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.data import datasets


def test_names_and_export() -> None:
    assert datasets.names() == ("faithful", "galaxies")
    assert "datasets" in bm.__all__ and bm.datasets is datasets


def test_galaxies_is_the_mass_version_in_km_s() -> None:
    v = datasets.load("galaxies")
    assert isinstance(v, pd.Series)
    assert v.name == "velocity_km_s" and v.dtype == np.float64
    assert v.shape == (82,)
    assert v.iloc[77] == 26690.0  # observation 78: MASS has 26690, Richardson & Green 26960
    assert (v != 26960.0).all()
    assert (v.iloc[0], v.min(), v.max()) == (9172.0, 9172.0, 34279.0)
    assert v.mean() == pytest.approx(20828.1707317, abs=1e-6)  # the classic 20.83 (1000 km/s)
    assert v.attrs["units"] == {"velocity_km_s": "recession velocity, km/s"}


def test_faithful_has_two_columns_in_minutes() -> None:
    f = datasets.load("faithful")
    assert isinstance(f, pd.DataFrame)
    assert f.shape == (272, 2)
    assert list(f.columns) == ["eruptions", "waiting"]
    assert (f.dtypes == np.float64).all()
    assert f.iloc[0].tolist() == [3.6, 79.0] and f.iloc[-1].tolist() == [4.467, 74.0]
    assert f["waiting"].mean() == pytest.approx(70.8970588, abs=1e-6)
    assert f["eruptions"].mean() == pytest.approx(3.4877831, abs=1e-6)
    assert "minutes" in f.attrs["units"]["waiting"]


def test_each_load_returns_a_new_object() -> None:
    first = datasets.load("faithful")
    first.iloc[0, 0] = -1.0
    assert datasets.load("faithful").iloc[0, 0] == 3.6


@pytest.mark.parametrize("name", ["galaxies", "faithful"])
def test_describe_gives_provenance_and_units(name: str) -> None:
    text = datasets.describe(name)
    assert text.startswith(f"{name}: ")
    assert "Rdatasets" in text and "Source:" in text
    assert datasets.load(name).attrs["source"] in text


def test_describe_galaxies_says_which_version() -> None:
    text = datasets.describe("galaxies")
    assert "26690" in text and "26960" in text and "MASS" in text and "km/s" in text


@pytest.mark.parametrize("bad", ["Galaxies", "iris", "", 3])
def test_unknown_name_lists_the_valid_ones(bad: object) -> None:
    for fn in (datasets.load, datasets.describe):
        with pytest.raises(ValueError, match=r"\['faithful', 'galaxies'\]"):
            fn(bad)  # type: ignore[arg-type]
