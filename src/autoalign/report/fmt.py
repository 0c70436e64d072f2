"""Formatting shared by the report's sections: estimates with CIs, embedded images."""

from __future__ import annotations

import base64
import html
from pathlib import Path


def fmt_estimate(e: dict, pct: bool = True) -> str:
    f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.3f}")
    return f"{f(e['mean'])} <span class=ci>[{f(e['ci_low'])}, {f(e['ci_high'])}]</span>"


def embed_image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<p><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}"></p>'


def fmt_signed(e: dict) -> str:
    f = lambda x: f"{100 * x:+.1f}"  # noqa: E731
    return f"{f(e['mean'])} <span class=ci>[{f(e['ci_low'])}, {f(e['ci_high'])}]</span>"


def ci_bars(e: dict) -> tuple[float, float]:
    """Distances from the mean to the CI's ends, in points, for matplotlib's ``yerr``."""
    return (e["mean"] - e["ci_low"]) * 100, (e["ci_high"] - e["mean"]) * 100


def text_estimate(e: dict) -> str:
    """An estimate as plain text for the terminal: ``61.0% [57.2%, 64.5%]``."""
    return f"{e['mean']:.1%} [{e['ci_low']:.1%}, {e['ci_high']:.1%}]"


def text_points(e: dict) -> str:
    """A difference as plain text, in points: ``+8.3 points [+5.7, +11.2]``."""
    return f"{e['mean'] * 100:+.1f} points [{e['ci_low'] * 100:+.1f}, {e['ci_high'] * 100:+.1f}]"
