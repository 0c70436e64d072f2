"""Report sections several protocols share (a generator's accuracy and training curve)."""

from __future__ import annotations

from ..runtime.store import RunStore
from . import plots
from .fmt import embed_image, fmt_estimate


def generator_section(store: RunStore, g: dict | None, history: list | None = None, name: str = "generator") -> str:
    """A generator's accuracy, by number of steps, and its training curve (shared by protocols)."""
    if not g:
        return ""
    rows = "".join(
        f"<tr><td>{k}</td><td>{fmt_estimate(e)}</td><td>{e['n']}</td></tr>"
        for k, e in sorted(g["accuracy_by_steps"].items(), key=lambda kv: int(kv[0]))
    )
    parts = [
        "<h2>Generator</h2>",
        f"<p>{g['test_problems']} held-out problems, {g['samples_per_problem']} samples each at "
        f"temperature {g['temperature']}; "
        + (f"{g['params'] / 1e6:.2f}M parameters.</p>" if g.get("params") else "a served model (size unknown).</p>"),
        "<table><tr><th>measure</th><th>value [95% CI]</th></tr>",
        f"<tr><td>samples correct</td><td>{fmt_estimate(g['accuracy'])}</td></tr>",
        f"<tr><td>well-formed samples</td><td>{fmt_estimate(g['well_formed'])}</td></tr>",
        f"<tr><td>greedy accuracy</td><td>{100 * g['greedy_accuracy']:.1f}%</td></tr></table>",
        "<table><tr><th>steps</th><th>samples correct [95% CI]</th><th>problems</th></tr>",
        rows,
        "</table>",
        embed_image(
            plots.accuracy_by_steps(
                g["accuracy_by_steps"], g["accuracy"], store.file("plots", f"{name}_accuracy_by_steps.png")
            )
        ),
    ]
    if history:
        parts.append(embed_image(plots.training_curve(history, store.file("plots", f"{name}_training.png"))))
    return "\n".join(parts)
