"""Saved fits: one NetCDF file (HDF5, written by h5netcdf) per fitted mixture.

The file holds the fit's DataTree: posterior, sample stats, observed data and the root
attributes that record the spec, the sampler settings (with the seed actually used), the
data fingerprint and package versions. The pointwise log-likelihood (draws x N) is not
stored: it is derived from the posterior and the data, and recomputed on load with the
same function as after sampling, so every number of a loaded result matches the fresh one.
(A log-likelihood group that differs from that recomputation, e.g. one computed by PyMC,
is stored as it is.)

Attributes HDF5 cannot hold (bool, None, dict, list) are stored as JSON strings and
decoded on load; text variables holding ``None`` (nutpie's ``divergence_message``) are
stored with ``""`` for ``None``. A SHA-256 checksum of all stored content is written with
the file and checked on load, because HDF5 itself does not detect flipped bytes in data.
Loading reads NetCDF and JSON only: it never executes code from the file.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING

import h5py
import numpy as np
import xarray as xr

from bayesmix.data.provenance import data_fingerprint
from bayesmix.io.hdf5tree import checksum, decode_tree, encode_tree
from bayesmix.io.whole import replacing
from bayesmix.model import MixtureSpec
from bayesmix.posterior.loglik import lazy_log_likelihood_dataset, log_likelihood_dataset

if TYPE_CHECKING:
    from bayesmix.posterior.fitted import Fitted

__all__ = ["FORMAT", "FitFileError", "read_fit", "save"]

#: Format marker written to the root attributes of every saved fit.
FORMAT = "bayesmix-fit/1"
_FORMAT_ATTR = "bayesmix_format"
_CHECKSUM_ATTR = "bayesmix_content_sha256"
_DERIVED_ATTR = "bayesmix_derived_groups"
_FILE_ONLY = (_FORMAT_ATTR, _CHECKSUM_ATTR, _DERIVED_ATTR)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

PathLike = str | os.PathLike[str]


class FitFileError(ValueError):
    """A file is not a readable bayesmix fit (wrong kind, corrupted or tampered with).

    Attributes
    ----------
    path : pathlib.Path
        The file concerned.
    """

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = pathlib.Path(path)
        super().__init__(f"{str(self.path)!r} {problem}")


def _derivable_log_lik(tree: xr.DataTree, y: np.ndarray, family: str) -> bool:
    """Whether the log_likelihood group is exactly what load would recompute."""
    if "log_likelihood" not in tree.children:
        return False
    stored = tree.children["log_likelihood"].to_dataset(inherit=False)
    recomputed = log_likelihood_dataset(tree["posterior"].to_dataset(), y, family)
    return stored.identical(recomputed)


# -- save ---------------------------------------------------------------------------------
def save(result: Fitted, path: PathLike) -> pathlib.Path:
    """Write a fitted mixture to one NetCDF file.

    Parameters
    ----------
    result : MixtureResult
        The fit to save.
    path : str or os.PathLike
        The file to write (conventionally ``*.nc``); an existing file is replaced. The
        file is written next to it under a temporary name first, so a failed write never
        leaves a half-written file at ``path``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``result`` is not a :class:`MixtureResult`.
    ValueError
        If the observed data do not match the fingerprint recorded at fitting time.
    OSError
        If the file cannot be written (e.g. its directory does not exist).

    See Also
    --------
    load : read the file back into a :class:`MixtureResult`.

    Examples
    --------
    >>> import bayesmix as bm
    >>> res = bm.fit([1.0, 1.2, 0.9, 5.0, 5.3, 4.8], 2, progressbar=False)  # doctest: +SKIP
    >>> bm.save(res, "fit.nc")  # doctest: +SKIP
    PosixPath('fit.nc')
    """
    if not isinstance(getattr(result, "idata", None), xr.DataTree):
        raise TypeError(f"result must be a bayesmix.MixtureResult, got {type(result).__name__}")
    target = pathlib.Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"cannot save a fit to {str(target)!r}: it is a directory")
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save a fit to {str(target)!r}: folder {str(target.parent)!r} does not exist"
        )
    tree = result.idata
    fingerprint = data_fingerprint(result.data)
    recorded = tree.attrs.get("bayesmix_data_sha256", fingerprint)
    if recorded != fingerprint:
        raise ValueError(
            "the fit's observed data do not match the data fingerprint recorded when it "
            "was fitted (bayesmix_data_sha256); the DataTree was modified after fitting"
        )
    derived = (
        ["log_likelihood"] if _derivable_log_lik(tree, result.data, result.spec.family) else []
    )
    out = encode_tree(tree, skip=derived)
    out.attrs.update(
        {
            _FORMAT_ATTR: FORMAT,
            "bayesmix_data_sha256": fingerprint,
            _DERIVED_ATTR: json.dumps(derived),
        }
    )
    out.attrs[_CHECKSUM_ATTR] = checksum(out, exclude=_CHECKSUM_ATTR)
    with replacing(target) as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    return target


# -- load ---------------------------------------------------------------------------------
def _read_tree(path: pathlib.Path) -> xr.DataTree:
    """Read the whole file into memory and close it, or say why the file is unreadable."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {str(path)!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{str(path)!r} is a directory, not a saved fit") from None
    if not head:
        raise FitFileError(path, "is empty, not a bayesmix fit")
    if head != _HDF5_SIGNATURE:
        kind = "a NetCDF-3 file" if head.startswith(b"CDF") else "not a NetCDF-4 (HDF5) file"
        raise FitFileError(path, f"is {kind}; a bayesmix fit is a NetCDF-4 file saved by bm.save")
    try:
        # Open with h5py first: h5netcdf leaves a half-built object behind when the file
        # is unreadable, whose destructor then raises "Exception ignored in" noise.
        with h5py.File(path, "r") as h5:
            h5.attrs.get("_nc3_strict")  # what h5netcdf reads before it can clean up
        tree = xr.open_datatree(path, engine="h5netcdf")
        try:
            tree.load()
        finally:
            tree.close()
    except Exception as err:  # h5py and h5netcdf raise many types for damaged files
        raise FitFileError(
            path, f"is truncated or corrupted and cannot be read ({type(err).__name__}: {err})"
        ) from err
    return tree


def _check(path: pathlib.Path, tree: xr.DataTree) -> None:
    fmt = tree.attrs.get(_FORMAT_ATTR)
    if fmt is None:
        raise FitFileError(
            path, f"is a NetCDF file but not a bayesmix fit (no {_FORMAT_ATTR!r} attribute)"
        )
    if fmt != FORMAT:
        raise FitFileError(
            path, f"has format {fmt!r}; this bayesmix reads {FORMAT!r} (upgrade bayesmix?)"
        )
    for group, var in (("posterior", "mu"), ("observed_data", "y")):
        if group not in tree.children or var not in tree[group].data_vars:
            raise FitFileError(path, f"is damaged: it has no {group!r} group with {var!r}")
    for attr in ("bayesmix_spec", "bayesmix_data_sha256", _DERIVED_ATTR, _CHECKSUM_ATTR):
        if attr not in tree.attrs:
            raise FitFileError(path, f"is damaged: its {attr!r} attribute is missing")
    y = np.asarray(tree["observed_data"]["y"].values, dtype=np.float64)
    if data_fingerprint(y) != tree.attrs["bayesmix_data_sha256"]:
        raise FitFileError(
            path,
            "holds observed data that do not match the SHA-256 fingerprint stored with the "
            "fit (bayesmix_data_sha256): the file was modified or corrupted after saving",
        )
    if checksum(tree, exclude=_CHECKSUM_ATTR) != tree.attrs[_CHECKSUM_ATTR]:
        raise FitFileError(
            path,
            "is corrupted: its content does not match the SHA-256 checksum written when it "
            "was saved",
        )


def read_fit(path: PathLike) -> xr.DataTree:
    """Read and verify the DataTree of a fit written by :func:`save`; see ``bm.load``."""
    file = pathlib.Path(path)
    raw = _read_tree(file)
    _check(file, raw)
    try:
        tree = decode_tree(raw, drop_attrs=_FILE_ONLY)
        spec = MixtureSpec.from_dict(json.loads(tree.attrs["bayesmix_spec"]))
        if "log_likelihood" in json.loads(raw.attrs[_DERIVED_ATTR]):
            y = np.asarray(tree["observed_data"]["y"].values, dtype=np.float64)
            post = tree["posterior"].to_dataset()
            ll = lazy_log_likelihood_dataset(post, y, spec.family)
            tree["log_likelihood"] = xr.DataTree(ll)
    except (ValueError, TypeError, KeyError) as err:
        raise FitFileError(file, f"is damaged: {type(err).__name__}: {err}") from err
    k = spec.n_components
    if k != tree["posterior"].sizes.get("component"):
        raise FitFileError(file, f"is damaged: its spec has {k} components, its posterior not")
    return tree
