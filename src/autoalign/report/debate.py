"""The report's debate sections: sparse-pixel debate on digits, and debate vs consultancy on facts."""

from __future__ import annotations

from pathlib import Path

from ..runtime.store import RunStore
from .fmt import ci_bars, embed_image, fmt_estimate, fmt_signed
from .plots import _save, plt


def digits_plot(debate: dict, path: Path) -> Path:
    """Judge accuracy on random pixels vs the honest debater's win rate, per k, with 95% CIs."""
    ks = sorted(debate, key=lambda s: int(s[1:]))
    series = [("judge_random", "judge alone, random pixels", "#999999"),
              ("honest_win_no_precommit", "debate, no precommit", "#4C72B0"),
              ("honest_win", "debate, precommit", "#C44E52")]
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
    return _save(fig, path)


def facts_plot(facts: dict, path: Path) -> Path:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    names = ["blind", "consultancy", "debate"]
    lo, hi = zip(*(ci_bars(facts[n]) for n in names))
    a1.bar(names, [facts[n]["mean"] * 100 for n in names], yerr=[lo, hi], capsize=4,
           color=["#999999", "#4C72B0", "#C44E52"])
    a1.axhline(50, color="k", lw=0.6, ls=":")
    a1.set_ylim(0, 100)
    a1.set_ylabel("judge accuracy (%)")
    a1.set_title("Protocols (95% CI over questions)")
    table = facts.get("elo", [])
    if table:
        x = [r["elo"]["mean"] for r in table]
        y = [r["judge_accuracy_self_play"]["mean"] * 100 for r in table]
        ylo, yhi = zip(*(ci_bars(r["judge_accuracy_self_play"]) for r in table))
        a2.errorbar(x, y, yerr=[ylo, yhi], fmt="o-", color="#C44E52", capsize=3)
        for r, xi, yi in zip(table, x, y):
            a2.annotate(f"N={r['strength']}", (xi, yi), textcoords="offset points", xytext=(4, -10), fontsize=8)
        a2.set_xlabel("debater Elo (cross-play)")
        a2.set_ylabel("judge accuracy in self-play (%)")
        a2.set_ylim(0, 100)
        a2.set_title("Stronger debaters, better judging?")
    return _save(fig, path)


def digits_section(store: RunStore, metrics: dict, stages: dict) -> str:
    debate = metrics.get("debate")
    if not debate:
        return ""
    ks = sorted(debate, key=lambda s: int(s[1:]))
    search = next(iter(debate.values())).get("search", "mcts")
    cols = [("judge_random", "judge, random pixels (10-way)"), ("judge_random_2way", "judge, random pixels (truth vs one lie)"),
            ("honest_win", f"honest wins, precommit ({search})"), ("honest_win_greedy", "honest wins, precommit (greedy)"),
            ("honest_win_no_precommit", f"honest wins, no precommit ({search})")]
    head = "".join(f"<th>{label}</th>" for _, label in cols)
    rows = "".join(
        f"<tr><td>{k[1:]}</td>" + "".join(f"<td>{fmt_estimate(debate[k][c]) if c in debate[k] else '-'}</td>" for c, _ in cols)
        + f"<td>{fmt_signed(debate[k]['lift'])}</td></tr>" for k in ks)
    return "\n".join([
        "<h2>Sparse-pixel debate (digits)</h2>",
        "<p>A judge that sees only k non-zero pixels of an 8x8 digit. Alone, on random pixels, it guesses the "
        "digit; under debate an honest and a lying debater take turns revealing pixels. With precommitment the "
        "liar names its wrong label first and the honest debater must beat all 9 possible lies; the win rate "
        "averages who moves first. Without precommitment the liar may end on any wrong label.</p>",
        f"<table><tr><th>k</th>{head}<th>lift of debate (points)</th></tr>{rows}</table>",
        embed_image(digits_plot(debate, store.file("plots", "debate_digits.png"))),
    ])


def facts_section(store: RunStore, metrics: dict, stages: dict) -> str:
    facts = metrics.get("facts")
    if not facts:
        return ""
    rows = "".join(f"<tr><td>{n}</td><td>{fmt_estimate(facts[n])}</td></tr>" for n in
                   ("debate", "consultancy", "consultancy_honest", "consultancy_dishonest", "blind"))
    diffs = "".join(f"<tr><td>{n.replace('_minus_', ' &minus; ')}</td><td>{fmt_signed(facts[n])}</td></tr>"
                    for n in ("debate_minus_consultancy", "consultancy_minus_blind"))
    elo = "".join(
        f"<tr><td>{r['strength']}</td><td>{r['elo']['mean']:.0f} <span class=ci>[{r['elo']['ci_low']:.0f}, "
        f"{r['elo']['ci_high']:.0f}]</span></td><td>{fmt_estimate(r['judge_accuracy_self_play'])}</td>"
        f"<td>{100 * r['win_rate_honest']:.1f}%</td><td>{100 * r['win_rate_dishonest']:.1f}%</td></tr>"
        for r in facts.get("elo", []))
    parts = [
        "<h2>Information-asymmetry debate (facts)</h2>",
        "<p>Debaters read a story of links between rooms; the judge sees only their quotes, each checked "
        "verbatim against the story. Debate: an honest and a dishonest debater; consultancy: one consultant, "
        "its side correct or not at random; blind: no quotes.</p>",
        f"<table><tr><th>protocol</th><th>judge accuracy [95% CI]</th></tr>{rows}</table>",
        f"<table><tr><th>difference</th><th>points [95% CI]</th></tr>{diffs}</table>",
        embed_image(facts_plot(facts, store.file("plots", "debate_facts.png"))),
    ]
    if elo:
        adv = facts["honest_advantage_elo"]
        parts += [f"<p>Cross-play tournament over debater strengths (best-of-N quotes), {facts['games']} debates; "
                  f"arguing the true side is worth {adv['mean']:.0f} Elo [{adv['ci_low']:.0f}, {adv['ci_high']:.0f}].</p>",
                  "<table><tr><th>N</th><th>Elo [95% CI]</th><th>judge accuracy, self-play</th>"
                  f"<th>wins as honest</th><th>wins as dishonest</th></tr>{elo}</table>"]
    return "\n".join(parts)
