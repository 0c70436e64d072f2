"""Best-of-N's figures: accuracy against N for every scorer, and the active-learning curves.

The built-in scorers keep fixed colours; an overseer named in ``best_of_n.overseers`` (a plugin's
too) is drawn beside them in a colour of its own.
"""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure

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
NOT_CURVES = {"diff", "ablation"}
# built-in scorers drawn only in the ablation's table, not as curves
TABLE_ONLY = {"prm_cumulative", "orm_per_step", "orm_last_token", "orm_frozen"}
OVERSEER_COLOURS = ("#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")


def curve_styles(curves: dict) -> dict[str, tuple[str, str, str]]:
    """(label, colour, line style) of every scorer to draw: the built-ins, then the listed overseers."""
    styles = {m: s for m, s in METHOD_STYLE.items() if m in curves}
    others = [m for m in curves if m not in METHOD_STYLE and m not in NOT_CURVES and m not in TABLE_ONLY]
    for k, m in enumerate(others):
        styles[m] = (f"{m} (overseer)", OVERSEER_COLOURS[k % len(OVERSEER_COLOURS)], "-.")
    return styles


def best_of_n_curves(curves: dict, world: str, path: Path) -> Path:
    """Accuracy of the selected solution against N (log scale), with 95% CI bands."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, (label, color, ls) in curve_styles(curves).items():
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
    return save_figure(fig, path)


def active_learning_curve(al: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(
        al.get("uniform_budgets", al["budgets"]),
        [a * 100 for a in al["uniform_accuracy"]],
        "o-",
        label="uniform choice",
    )
    ax.plot(al["budgets"], [a * 100 for a in al["active_accuracy"]], "o-", label="convincing wrong answers")
    ax.set_xscale("log")
    ax.set_xlabel("labelled solutions")
    ax.set_ylabel(f"PRM best-of-{al['n']} accuracy (%)")
    ax.set_title(f"Active learning ({al['world']})")
    ax.legend()
    return save_figure(fig, path)
