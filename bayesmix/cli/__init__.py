"""The ``bayesmix`` command line: fit, summary, report, compare, demo."""

from bayesmix.cli.commands import main

__all__ = ["main"]
