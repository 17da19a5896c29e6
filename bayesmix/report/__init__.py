"""What users read: summary tables, plots, and the HTML / Markdown report."""

from bayesmix.report.html import show_versions, write_report

__all__ = ["show_versions", "write_report"]
