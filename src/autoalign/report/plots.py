"""Plots for the report, drawn with matplotlib's Agg backend and saved as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..runtime.store import atomic_write_bytes  # noqa: E402


def _save(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def accuracy_by_steps(by_steps: dict, overall: dict, path: Path) -> Path:
    """Bar chart of accuracy per number of steps, with 95% CI error bars."""
    keys = sorted(by_steps, key=int)
    means = [by_steps[k]["mean"] * 100 for k in keys]
    lo = [(by_steps[k]["mean"] - by_steps[k]["ci_low"]) * 100 for k in keys]
    hi = [(by_steps[k]["ci_high"] - by_steps[k]["mean"]) * 100 for k in keys]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.bar(keys, means, yerr=[lo, hi], capsize=4, color="#4C72B0")
    ax.axhline(overall["mean"] * 100, color="#C44E52", ls="--", label=f"overall {overall['mean']:.1%}")
    ax.set_xlabel("steps in the problem")
    ax.set_ylabel("samples correct (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Generator accuracy by problem length (95% CI)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def training_curve(history: list[dict], path: Path) -> Path:
    """Training loss and greedy validation accuracy against optimizer step."""
    loss = [(h["step"], h["loss"]) for h in history if "loss" in h]
    acc = [(h["step"], h["val_accuracy"]) for h in history if "val_accuracy" in h]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    if loss:
        ax.plot(*zip(*loss), color="#4C72B0", label="training loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_yscale("log")
    if acc:
        ax2 = ax.twinx()
        ax2.plot(*zip(*acc), "o-", color="#55A868", label="greedy validation accuracy")
        ax2.set_ylabel("validation accuracy")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title("Generator training")
    return _save(fig, path)


METHOD_STYLE = {
    "pass_at_n": ("pass@N (ceiling)", "#999999", ":"),
    "prm": ("PRM", "#C44E52", "-"),
    "orm": ("ORM", "#4C72B0", "-"),
    "weighted_vote": ("PRM-weighted vote", "#DD8452", "--"),
    "majority": ("majority vote", "#55A868", "-"),
    "loglik": ("generator log-likelihood", "#8172B3", "--"),
    "prm_weak": ("PRM, linear head (weak)", "#C44E52", ":"),
    "orm_weak": ("ORM, linear head (weak)", "#4C72B0", ":"),
}


def best_of_n_curves(curves: dict, world: str, path: Path) -> Path:
    """Accuracy of the selected solution against N (log scale), with 95% CI bands."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, (label, color, ls) in METHOD_STYLE.items():
        if method not in curves:
            continue
        ns = sorted(curves[method], key=int)
        x = [int(n) for n in ns]
        mean = [curves[method][n]["mean"] * 100 for n in ns]
        lo = [curves[method][n]["ci_low"] * 100 for n in ns]
        hi = [curves[method][n]["ci_high"] * 100 for n in ns]
        ax.plot(x, mean, ls, color=color, label=label, marker="o", ms=3)
        ax.fill_between(x, lo, hi, color=color, alpha=0.08)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (solutions per problem)")
    ax.set_ylabel("% problems solved by the chosen solution")
    ax.set_title(f"Best-of-N on {world} (95% CI over problems)")
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def active_learning_curve(al: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(al.get("uniform_budgets", al["budgets"]), [a * 100 for a in al["uniform_accuracy"]], "o-",
            label="uniform choice")
    ax.plot(al["budgets"], [a * 100 for a in al["active_accuracy"]], "o-", label="convincing wrong answers")
    ax.set_xscale("log")
    ax.set_xlabel("labelled solutions")
    ax.set_ylabel(f"PRM best-of-{al['n']} accuracy (%)")
    ax.set_title(f"Active learning ({al['world']})")
    ax.legend()
    return _save(fig, path)
