"""Small real data sets shipped with bayesmix, for examples, tests and benchmarks.

>>> import bayesmix as bm
>>> bm.datasets.names()
('faithful', 'galaxies')
>>> bm.datasets.load("galaxies").size
82

``galaxies``
    Recession velocities (km/s) of 82 galaxies in the Corona Borealis region (Roeder
    1990), as distributed in R's MASS package: a pandas Series ``velocity_km_s``. This is
    the MASS version, whose 78th observation is 26690 km/s; Richardson & Green (1997) and
    several later papers used 26960 there. Many analyses work in units of 1000 km/s
    (divide by 1000); published answers to "how many components?" put most posterior mass
    on 5 to 7.
``faithful``
    Old Faithful geyser, 272 eruptions (Härdle 1991), as in R's datasets package: a pandas
    DataFrame with ``eruptions`` (eruption time, minutes) and ``waiting`` (waiting time to
    the next eruption, minutes). Both columns are bimodal; ``waiting`` is the textbook
    two-component example.

Both files were copied from the Rdatasets collection (github.com/vincentarelbundock/
Rdatasets: ``csv/MASS/galaxies.csv`` at commit a44de06f4edac532bcc05deadc560dea870f6173
and ``csv/datasets/faithful.csv``), keeping the values and dropping the row names.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal, overload

import pandas as pd

__all__ = ["describe", "load", "names"]


@dataclass(frozen=True)
class _Info:
    title: str
    columns: dict[str, str]  # column -> unit and meaning
    source: str
    notes: str


_DATASETS: dict[str, _Info] = {
    "faithful": _Info(
        title="Old Faithful geyser: eruption and waiting times of 272 eruptions",
        columns={
            "eruptions": "eruption time, minutes",
            "waiting": "waiting time to the next eruption, minutes",
        },
        source=(
            "Härdle, W. (1991), Smoothing Techniques with Implementation in S, Springer; "
            "distributed as `faithful` in R's datasets package; copied from the Rdatasets "
            "collection (vincentarelbundock/Rdatasets, csv/datasets/faithful.csv)."
        ),
        notes=(
            "Both columns are clearly bimodal; `waiting` is the textbook two-component "
            "example. Values are stored as float64."
        ),
    ),
    "galaxies": _Info(
        title="Recession velocities of 82 galaxies in the Corona Borealis region",
        columns={"velocity_km_s": "recession velocity, km/s"},
        source=(
            "Roeder, K. (1990), Density estimation with confidence sets exemplified by "
            "superclusters and voids in the galaxies, JASA 85, 617-624; distributed as "
            "`galaxies` in R's MASS package; copied from the Rdatasets collection "
            "(vincentarelbundock/Rdatasets, csv/MASS/galaxies.csv, commit "
            "a44de06f4edac532bcc05deadc560dea870f6173)."
        ),
        notes=(
            "This is the MASS version: observation 78 (index 77) is 26690 km/s, where "
            "Richardson & Green (1997) and several later papers have 26960. Many analyses "
            "use units of 1000 km/s (divide by 1000). Published analyses put most "
            "posterior mass on 5 to 7 components."
        ),
    ),
}


def names() -> tuple[str, ...]:
    """Return the names of the bundled data sets.

    Returns
    -------
    tuple of str
        Sorted names, each accepted by :func:`load` and :func:`describe`.

    Examples
    --------
    >>> from bayesmix import datasets
    >>> datasets.names()
    ('faithful', 'galaxies')
    """
    return tuple(sorted(_DATASETS))


def _info(name: str) -> _Info:
    if not isinstance(name, str) or name not in _DATASETS:
        raise ValueError(f"no bundled data set named {name!r}; choose one of {list(names())}")
    return _DATASETS[name]


def describe(name: str) -> str:
    """Return a description of a bundled data set: contents, units, source and caveats.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    str
        Several lines of plain text.

    Raises
    ------
    ValueError
        If there is no data set of that name (the message lists the valid names).

    Examples
    --------
    >>> from bayesmix import datasets
    >>> print(datasets.describe("galaxies").splitlines()[0])
    galaxies: Recession velocities of 82 galaxies in the Corona Borealis region
    """
    info = _info(name)
    lines = [f"{name}: {info.title}", "Columns:"]
    lines += [f"  {col}: {meaning}" for col, meaning in info.columns.items()]
    lines += [f"Source: {info.source}", f"Notes: {info.notes}"]
    return "\n".join(lines)


@overload
def load(name: Literal["galaxies"]) -> pd.Series: ...
@overload
def load(name: Literal["faithful"]) -> pd.DataFrame: ...
@overload
def load(name: str) -> pd.Series | pd.DataFrame: ...


def load(name: str) -> pd.Series | pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : {"galaxies", "faithful"}
        Which data set; see :func:`names` and :func:`describe`.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        A one-column data set as a float64 Series named after its column (``galaxies``:
        ``velocity_km_s``, 82 values in km/s); a data set with several columns as a
        float64 DataFrame (``faithful``: ``eruptions`` and ``waiting``, 272 rows, in
        minutes). ``attrs`` holds ``title``, ``units`` (column -> unit and meaning) and
        ``source``. Each call returns a new object.

    Raises
    ------
    ValueError
        If there is no data set of that name (the message lists the valid names).

    Examples
    --------
    >>> import bayesmix as bm
    >>> v = bm.datasets.load("galaxies")
    >>> float(v.iloc[77])
    26690.0
    >>> bm.datasets.load("faithful").shape
    (272, 2)
    """
    info = _info(name)
    with resources.files(__name__).joinpath(f"{name}.csv").open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype="float64")
    if list(frame.columns) != list(info.columns):
        raise RuntimeError(f"bundled {name}.csv has columns {list(frame.columns)}; reinstall")
    data: pd.Series | pd.DataFrame = frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    data.attrs.update({"title": info.title, "units": dict(info.columns), "source": info.source})
    return data
