"""Saving a protocol's figures: matplotlib on its file-only Agg backend, PNGs written atomically.

Every protocol draws its own plots in its own package and saves them with :func:`save_figure`, so
that a run killed while a report is written never leaves half an image.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..runtime.store import atomic_write_bytes  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (110 dpi, tight), close it, and return the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
