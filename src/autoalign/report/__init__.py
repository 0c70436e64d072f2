"""The HTML report of a run, with its plots."""

from .html import write_report

__all__ = ["write_report"]
