"""The report's recursive reward modeling section: long-outcome reward models side by side."""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import ci_bars, embed_image, fmt_estimate, fmt_signed
from ...runtime.store import RunStore

BARS = [
    ("unassisted", "unassisted user labels", "#999999"),
    ("recursive", "recursive (assisted) labels", "#C44E52"),
    ("ceiling", "true labels (ceiling)", "#4C72B0"),
]


def _unit(m: dict) -> str:
    return "steps" if m.get("outcomes") == "solutions" else "ops"


def _what(m: dict) -> str:
    if m.get("outcomes") == "solutions":
        return "stretches of gold solutions"
    return "countdown solutions" if m.get("world") == "countdown" else "number chains"


def rrm_plot(m: dict, path: Path) -> Path:
    """Accuracy of each long-outcome reward model (bars) and of its training labels (dots)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (key, label, color) in enumerate(BARS):
        lo, hi = ci_bars(m[key])
        ax.bar(i, m[key]["mean"] * 100, 0.6, yerr=[[lo], [hi]], capsize=4, color=color)
        ax.plot(i, m["label_accuracy"][key] * 100, "k_", ms=28, mew=2)
    ax.plot([], [], "k_", ms=12, mew=2, label="training labels right")
    ax.axhline(50, color="#999999", ls="--", lw=0.8, label="chance")
    ax.set_xticks(range(len(BARS)), [b[1] for b in BARS], fontsize=8)
    ax.set_ylabel("% held-out outcomes judged right")
    ax.set_ylim(0, 100)
    fewest, most = m["long_chain_steps"]
    ax.set_title(f"Reward models on long outcomes ({fewest}-{most} {_unit(m)}), 95% CI")
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def rrm_section(store: RunStore, metrics: dict, stages: dict) -> str:
    m = metrics.get("rrm")
    if not m:
        return ""
    rows = "".join(
        f"<tr><td>{label}</td><td>{fmt_estimate(m[key])}</td><td>{100 * m['label_accuracy'][key]:.1f}%</td></tr>"
        for key, label, _ in BARS
    )
    lower = "".join(f"<tr><td>{k}</td><td>{fmt_estimate(v)}</td></tr>" for k, v in m["lower_levels"].items())
    assist = ", ".join(f"{k.replace('assistant_', '')}: {100 * v:.1f}%" for k, v in m["assistant_accuracy"].items())
    return "\n".join(
        [
            f"<h2>Recursive reward modeling ({m.get('world', 'arithmetic')}, {_what(m)})</h2>",
            "<p>A user checks short pieces of work exactly and agrees with the truth only part of the time on long "
            "ones. Reward models for longer pieces learn from evaluations in which the earlier levels' assistants "
            "state what a piece's first half reaches, splitting each piece into parts the user checks. Primary "
            "endpoint: recursive vs unassisted accuracy on held-out long outcomes"
            + (" (measured on the validation split: a tuning run)" if m.get("eval_split") == "val" else "")
            + ".</p>",
            (
                "<table><tr><th>long-outcome reward model trained on</th><th>accuracy [95% CI]</th>"
                f"<th>training labels right</th></tr>{rows}</table>"
            ),
            (
                f"<p>Recursive minus unassisted: {fmt_signed(m['recursive_minus_unassisted'])} points; recursive minus "
                f"ceiling: {fmt_signed(m['recursive_minus_ceiling'])} points. "
                f"Assistants' statements right: {assist}.</p>"
            ),
            f"<table><tr><th>lower level (recursive RM)</th><th>accuracy [95% CI]</th></tr>{lower}</table>",
            embed_image(rrm_plot(m, store.file("plots", "rrm.png"))),
        ]
    )
