"""Data in: validation of arrays and frames, text and CSV files, bundled data sets."""

from bayesmix.data import datasets
from bayesmix.data.validate import as_observations, check_n_components

__all__ = ["as_observations", "check_n_components", "datasets"]
