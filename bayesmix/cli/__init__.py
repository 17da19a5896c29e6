"""The ``bayesmix`` command line: fit, summary, report, compare, demo."""

from bayesmix.cli.main import main

__all__ = ["main"]
