"""The report's debate sections: sparse-pixel debate on digits."""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import ci_bars, embed_image, fmt_estimate, fmt_signed
from ...runtime.store import RunStore


def digits_plot(debate: dict, path: Path) -> Path:
    """Judge accuracy on random pixels vs the honest debater's win rate, per k, with 95% CIs."""
    ks = sorted(debate, key=lambda s: int(s[1:]))
    series = [
        ("judge_random", "judge alone, random pixels", "#999999"),
        ("honest_win_no_precommit", "debate, no precommit", "#4C72B0"),
        ("honest_win", "debate, precommit", "#C44E52"),
    ]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    width = 0.8 / len(series)
    for j, (key, label, color) in enumerate(series):
        xs = [i + (j - 1) * width for i in range(len(ks))]
        vals = [debate[k][key] for k in ks]
        lo, hi = zip(*(ci_bars(v) for v in vals))
        ax.bar(xs, [v["mean"] * 100 for v in vals], width, yerr=[lo, hi], capsize=3, color=color, label=label)
    ax.set_xticks(range(len(ks)), [f"k = {k[1:]} pixels" for k in ks])
    ax.set_ylabel("judge correct / honest wins (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Sparse-pixel debate on 8x8 digits (95% CI over images)")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def digits_section(store: RunStore, metrics: dict, stages: dict) -> str:
    debate = metrics.get("debate")
    if not debate:
        return ""
    ks = sorted(debate, key=lambda s: int(s[1:]))
    search = next(iter(debate.values())).get("search", "mcts")
    cols = [
        ("judge_random", "judge, random pixels (10-way)"),
        ("judge_random_2way", "judge, random pixels (truth vs one lie)"),
        ("honest_win", f"honest wins, precommit ({search})"),
        ("honest_win_greedy", "honest wins, precommit (greedy)"),
        ("honest_win_no_precommit", f"honest wins, no precommit ({search})"),
    ]
    head = "".join(f"<th>{label}</th>" for _, label in cols)
    rows = "".join(
        f"<tr><td>{k[1:]}</td>"
        + "".join(f"<td>{fmt_estimate(debate[k][c]) if c in debate[k] else '-'}</td>" for c, _ in cols)
        + f"<td>{fmt_signed(debate[k]['lift'])}</td></tr>"
        for k in ks
    )
    return "\n".join(
        [
            "<h2>Sparse-pixel debate (digits)</h2>",
            "<p>A judge that sees only k non-zero pixels of an 8x8 digit. Alone, on random pixels, it guesses the "
            "digit; under debate an honest and a lying debater take turns revealing pixels. With precommitment the "
            "liar names its wrong label first and the honest debater must beat all 9 possible lies; the win rate "
            "averages who moves first. Without precommitment the liar may end on any wrong label.</p>",
            f"<table><tr><th>k</th>{head}<th>lift of debate (points)</th></tr>{rows}</table>",
            embed_image(digits_plot(debate, store.file("plots", "debate_digits.png"))),
        ]
    )
