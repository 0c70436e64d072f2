"""Saving a protocol's figures: matplotlib on its file-only Agg backend, PNGs written atomically.

Every protocol draws its own plots in its own package and saves them with :func:`save_figure`, so
that a run killed while a report is written never leaves half an image.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from ..runtime.store import atomic_write_bytes

__all__ = ["plt", "save_figure"]


@cache
def _pyplot():
    """matplotlib.pyplot on Agg, imported on first use (about 1 s that a run without a report,
    a config check or a CLI error need not pay)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


class _Pyplot:
    """``plt``: stands for matplotlib.pyplot and imports it on the first attribute read."""

    def __getattr__(self, name: str):
        return getattr(_pyplot(), name)


plt = _Pyplot()


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (110 dpi, tight), close it, and return the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
