"""A generator's plots (accuracy by problem length, training curve), shared by every protocol that
trains one through ``sections.generator_section``. Each protocol's own plots live in its package."""

from __future__ import annotations

from pathlib import Path

from .figures import plt, save_figure


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
    return save_figure(fig, path)


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
    return save_figure(fig, path)
