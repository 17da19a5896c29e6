"""Saved fits: NetCDF files that reload without re-sampling and without running code."""

from bayesmix.io.netcdf import FORMAT, FitFileError, read_fit, save
from bayesmix.io.whole import replacing

__all__ = ["FORMAT", "FitFileError", "read_fit", "replacing", "save"]
