"""``bm.load``: a saved fit back as a :class:`~bayesmix.MixtureResult`."""

from __future__ import annotations

from pathlib import Path

from bayesmix.io import read_fit
from bayesmix.result import MixtureResult

__all__ = ["load"]


def load(path: str | Path) -> MixtureResult:
    """Read a fit written by :func:`save` (or :meth:`MixtureResult.save`).

    The whole file is read into memory and closed, so it may be deleted or overwritten
    afterwards. The data fingerprint and a checksum of the content are verified, and the
    pointwise log-likelihood is recomputed from the posterior, so summaries, densities,
    memberships and diagnostics equal those of the fit that was saved. No code from the
    file is executed (no pickle): it holds only arrays, text and JSON.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    MixtureResult
        The fit; its PyMC model is rebuilt from the data and spec when first used.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    FitFileError
        A ``ValueError`` naming the file and the problem: it is not a NetCDF-4 file, not
        a bayesmix fit, truncated or corrupted, or its data do not match the stored
        fingerprint.

    See Also
    --------
    save : write a fit.

    Examples
    --------
    >>> import bayesmix as bm
    >>> res = bm.load("fit.nc")  # doctest: +SKIP
    >>> res.components  # doctest: +SKIP
    """
    return MixtureResult(read_fit(path))
