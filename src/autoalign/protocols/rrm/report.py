"""The report's recursive reward modeling section: long-outcome reward models side by side, and, when
the run has them, its trained agents and its sweep of unassisted users."""

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


def sweep_table(m: dict) -> str:
    """One row per unassisted user of the sweep, beside the same recursive and ceiling reward models."""
    rows = "".join(
        f"<tr><td>{row['user_noise']}</td><td>{100 * row['user_agreement']:.0f}%</td>"
        f"<td>{100 * row['label_accuracy']:.1f}%</td><td>{fmt_estimate(row['unassisted'])}</td>"
        f"<td>{fmt_estimate(m['recursive'])}</td><td>{fmt_estimate(m['ceiling'])}</td>"
        f"<td>{fmt_signed(row['recursive_minus_unassisted'])}</td><td>{fmt_signed(row['ceiling_minus_unassisted'])}</td></tr>"
        for row in m.get("noise_sweep", {}).values()
    )
    if not rows:
        return ""
    return (
        "<p>User noise swept: the user's noise enters the unassisted labels only, so each row's recursive and "
        "ceiling reward models are the run's own, measured on the same held-out long outcomes:</p>"
        "<table><tr><th>user errs</th><th>agreement</th><th>unassisted labels right</th><th>unassisted RM</th>"
        "<th>recursive RM</th><th>ceiling RM</th><th>recursive - unassisted (points)</th>"
        f"<th>ceiling - unassisted (points)</th></tr>{rows}</table>"
    )


def sweep_plot(m: dict, path: Path) -> Path:
    """Accuracy on long outcomes against the user's agreement, one panel per kind of user noise: the
    unassisted reward model of each user (points), the recursive and ceiling ones (bands: one each)."""
    sweep = list(m["noise_sweep"].values())
    kinds = list(dict.fromkeys(row["user_noise"] for row in sweep))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.4), sharey=True, squeeze=False)
    agreements = sorted({row["user_agreement"] for row in sweep})
    span = (min(agreements) - 0.03, max(agreements) + 0.03)
    for ax, kind in zip(axes[0], kinds):
        for key, label, color in BARS[1:]:
            e = m[key]
            ax.axhspan(e["ci_low"] * 100, e["ci_high"] * 100, color=color, alpha=0.2, lw=0)
            ax.axhline(e["mean"] * 100, color=color, lw=1.5, label=label)
        rows = sorted((r for r in sweep if r["user_noise"] == kind), key=lambda r: r["user_agreement"])
        x = [100 * r["user_agreement"] for r in rows]
        y = [100 * r["unassisted"]["mean"] for r in rows]
        err = list(zip(*(ci_bars(r["unassisted"]) for r in rows)))
        ax.errorbar(x, y, yerr=err, fmt="o-", color=BARS[0][2], capsize=4, label=BARS[0][1])
        ax.plot(x, [100 * r["label_accuracy"] for r in rows], "k_", ms=14, mew=2)
        ax.axhline(50, color="#999999", ls="--", lw=0.8)
        ax.set_xlim(100 * span[0], 100 * span[1])
        ax.set_title(f"user errs: {kind}", fontsize=9)
        ax.set_xlabel("user's agreement with the truth (%)", fontsize=8)
    axes[0][0].set_ylabel("% held-out long outcomes judged right")
    axes[0][0].set_ylim(0, 100)
    axes[0][0].plot([], [], "k_", ms=10, mew=2, label="unassisted labels right")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Long-outcome reward models against the user's noise (95% CI)", fontsize=10)
    return save_figure(fig, path)


def agent_table(m: dict) -> str:
    """Each trained agent on held-out pieces of its level, before and after RLOO, beside the argmax assistant."""
    rows = "".join(
        f"<tr><td>{level}</td><td>{a['reward_before']:.3f} &rarr; {a['reward_after']:.3f}</td>"
        f"<td>{a['greedy_reward_before']:.3f} &rarr; {a['greedy_reward_after']:.3f}</td>"
        f"<td>{a['argmax_reward']:.3f}</td>"
        f"<td>{100 * a['right_before']:.1f}% &rarr; {100 * a['right_after']:.1f}%</td>"
        f"<td>{100 * a['argmax_right']:.1f}%</td><td>{a['kl']:.3f}</td></tr>"
        for level, a in m.get("agent_training", {}).items()
    )
    if not rows:
        return ""
    return (
        "<p>Trained agents (RLOO against their level's reward model, from the pretrained backbone), on held-out "
        "pieces of their level; reward is the reward model's P(right) of (piece, statement):</p>"
        "<table><tr><th>agent</th><th>reward, samples (T=1): untrained &rarr; trained</th>"
        "<th>reward, stated (greedy): untrained &rarr; trained</th><th>argmax assistant's reward</th>"
        "<th>statements right: untrained &rarr; trained</th><th>argmax assistant right</th>"
        f"<th>KL (nats)</th></tr>{rows}</table>"
    )


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
            agent_table(m),
            sweep_table(m),
            embed_image(rrm_plot(m, store.file("plots", "rrm.png"))),
            embed_image(sweep_plot(m, store.file("plots", "rrm_noise_sweep.png"))) if m.get("noise_sweep") else "",
        ]
    )
