"""The report's amplification section: final accuracies per task and the learning curves."""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import embed_image, fmt_estimate, fmt_signed
from ...runtime.store import RunStore

STYLE = {"amplified": ("#C44E52", "amplified (no true labels)"), "supervised": ("#4C72B0", "supervised (true labels)")}


def curves_plot(results: dict, path: Path) -> Path:
    """Per task: held-out accuracy of both methods against step, and the share of wrong amplified targets."""
    tasks = list(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        c = results[task]["curve"]
        for method, (color, label) in STYLE.items():
            ax.plot(c["step"], [100 * v for v in c[f"{method}_val_accuracy"]], "-", color=color, label=label)
        ax.plot(
            c["step"],
            [100 * v for v in c["amplified_wrong_targets"]],
            ":",
            color="#C44E52",
            label="amplified targets wrong",
        )
        ax.axhline(100 * results[task]["chance"], color="#999999", ls="--", lw=0.8, label="most common answer")
        ax.set_title(task.replace("_", " "), fontsize=9)
        ax.set_xlabel("optimizer step")
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("% (val, hard questions)")
    axes[0][-1].legend(fontsize=6, loc="lower right")
    fig.suptitle("Iterated amplification vs supervised learning (same model, same steps)", fontsize=10)
    return save_figure(fig, path)


def _reach(r: dict) -> str:
    reach = r["curve"].get("amplified_reach")
    if not reach:
        return "-"
    last = reach[-1]
    return f"{last:g}" if isinstance(last, (int, float)) else str(last)


def amplification_section(store: RunStore, metrics: dict, stages: dict) -> str:
    results = metrics.get("amplification")
    if not results:
        return ""
    rows = "".join(
        f"<tr><td>{task.replace('_', ' ')}</td><td>{fmt_estimate(r['amplified'])}</td>"
        f"<td>{fmt_estimate(r['supervised'])}</td><td>{fmt_signed(r['gap'])}</td>"
        f"<td>{100 * r['chance']:.1f}%</td><td>{_reach(r)}</td></tr>"
        for task, r in results.items()
    )
    return "\n".join(
        [
            "<h2>Iterated amplification</h2>",
            f"<p>Hard held-out questions (upper half of each task's depth range) with {metrics.get('size')} facts. "
            "The amplified answerer is trained only on targets from H (look up single facts, ask subquestions, "
            "combine) consulting the current model; the supervised one on true answers: the same questions, "
            "model and steps. The amplified answerer's depths grow (its reach) when it agrees with its own "
            "amplified targets at the current depth, a label-free check. Primary endpoints: both final accuracies "
            "per task.</p>",
            "<table><tr><th>task</th><th>amplified [95% CI]</th><th>supervised [95% CI]</th>"
            f"<th>amplified - supervised (points)</th><th>most common answer</th>"
            f"<th>amplified reach at the end (depth)</th></tr>{rows}</table>",
            embed_image(curves_plot(results, store.file("plots", "amplification_curves.png"))),
        ]
    )
