"""Read one column of numbers from a CSV, TSV or plain text file (for the command line).

Every problem is reported with the file, the line number in the file (1-based, as an
editor shows it) and what to do, so a user can fix the file without a traceback.
"""

from __future__ import annotations

import csv
import io
import math
import os
import pathlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Column", "InputFileError", "read_column"]

_DELIMITER_BY_SUFFIX = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_SNIFF_DELIMITERS = ",\t; "
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-"}


class InputFileError(ValueError):
    """A data file cannot be read as a column of numbers; the message says where and why."""


@dataclass(frozen=True)
class Column:
    """Numbers read from one column of a file.

    Attributes
    ----------
    values : numpy.ndarray
        The numbers, float64, in file order.
    name : str
        The column's header, or its 1-based position (``"1"``) if the file has no header.
    path : pathlib.Path
        The file.
    """

    values: np.ndarray
    name: str
    path: pathlib.Path


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _text(path: pathlib.Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{str(path)!r} is a directory, not a data file") from None
    except OSError as err:
        raise InputFileError(f"{str(path)!r} cannot be read: {err.strerror}") from None
    if b"\x00" in raw[:4096]:
        raise InputFileError(
            f"{str(path)!r} is a binary file, not text; give a CSV/TSV file or one number "
            "per line (a saved fit .nc is read by `bayesmix summary` or `bayesmix report`)"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputFileError(
            f"{str(path)!r}, line {line}: not UTF-8 text (byte {raw[err.start]:#04x}); "
            "save the file as UTF-8 CSV"
        ) from None


def _rows(path: pathlib.Path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank, non-comment row."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    delimiter = _DELIMITER_BY_SUFFIX.get(path.suffix.lower())
    if delimiter is None and lines:
        try:
            sample = "\n".join(lines[:50])
            delimiter = csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS).delimiter
        except csv.Error:
            delimiter = None  # one value per line
    rows = []
    if delimiter is None:  # columns separated by runs of blanks, or one value per line
        split = len({len(ln.split()) for ln in lines}) == 1
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                rows.append((number, line.split() if split else [line.strip()]))
        return rows
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    first = 1
    try:
        for cells in reader:
            number, first = first, reader.line_num + 1
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if delimiter == " ":
                cells = [c for c in cells if c]  # runs of spaces separate one pair of cells
            rows.append((number, [c.strip() for c in cells]))
    except csv.Error as err:
        raise InputFileError(f"{str(path)!r}, line {first}: malformed CSV ({err})") from None
    return rows


def _choose(
    path: pathlib.Path, names: list[str], data: list[tuple[int, list[str]]], column: str | None
) -> int:
    described = ", ".join(repr(n) for n in names)
    if column is not None:
        if column in names:
            return names.index(column)
        if column.isdigit() and 1 <= int(column) <= len(names):
            return int(column) - 1
        raise InputFileError(
            f"{str(path)!r} has no column {column!r}; available columns: {described} "
            "(or a position from 1)"
        )
    if len(names) == 1:
        return 0
    numeric = [
        i
        for i in range(len(names))
        if all(i < len(cells) and _is_number(cells[i]) for _, cells in data)
    ]
    if len(numeric) == 1:
        return numeric[0]
    raise InputFileError(
        f"{str(path)!r} has {len(names)} columns ({described}), "
        f"{len(numeric)} of them numeric; choose one with --column NAME"
    )


def read_column(path: str | os.PathLike[str], column: str | None = None) -> Column:
    """Read one column of numbers from a text file.

    The delimiter is taken from the suffix (``.csv``: comma, ``.tsv``/``.tab``: tab) or
    sniffed (comma, tab, semicolon, spaces; or runs of blanks if every line has as many
    fields); a file without one holds one number per line. The first row is a header if
    any of its cells is not a number. Blank lines and lines starting with ``#`` are
    skipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    column : str, optional
        The column's header, or its position counted from 1. Needed when the file has
        several columns, unless exactly one of them is numeric.

    Returns
    -------
    Column
        The values (float64), the column's name and the path.

    Raises
    ------
    InputFileError
        A ``ValueError`` naming the file, the line and the problem: no such file, not
        text, empty, no data rows, no such column, several numeric columns and no
        ``column``, a short row, a missing or non-numeric or infinite value.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = f.write_text("a,b" + chr(10) + "x,1.5" + chr(10) + "y,2")
    >>> read_column(f).values
    array([1.5, 2. ])
    """
    file = pathlib.Path(path)
    rows = _rows(file, _text(file))
    if not rows:
        raise InputFileError(
            f"{str(file)!r} is empty; expected numbers, one per line or in a CSV column"
        )
    first_line, first = rows[0]
    has_header = not all(_is_number(c) for c in first)
    data = rows[1:] if has_header else rows
    if has_header:
        names = [c or f"column {i}" for i, c in enumerate(first, start=1)]
    else:
        names = [str(i) for i in range(1, len(first) + 1)]
    if not data:
        raise InputFileError(f"{str(file)!r} has a header (line {first_line}) but no data rows")
    idx = _choose(file, names, data, column)
    name = names[idx]
    values = np.empty(len(data))
    for i, (number, cells) in enumerate(data):
        where = f"{str(file)!r}, line {number}"
        if idx >= len(cells):
            raise InputFileError(
                f"{where}: has {len(cells)} field(s) but column {name!r} is field {idx + 1}"
            )
        cell = cells[idx]
        if cell.lower() in _MISSING:
            raise InputFileError(
                f"{where}: column {name!r} has a missing value ({cell!r}); remove the row "
                "or fill in the value"
            )
        try:
            value = float(cell)
        except ValueError:
            raise InputFileError(
                f"{where}: column {name!r} holds {cell!r}, which is not a number"
            ) from None
        if not math.isfinite(value):
            raise InputFileError(f"{where}: column {name!r} holds {cell!r}; use finite numbers")
        values[i] = value
    return Column(values, name, file)
