"""autoalign: an automated alignment lab."""

__version__ = "0.1.0"
