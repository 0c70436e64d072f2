"""The report's debate sections: debate vs consultancy vs a blind judge on facts."""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import ci_bars, embed_image, fmt_estimate, fmt_signed
from ...runtime.store import RunStore
from .report_checks import checks_html


def facts_plot(facts: dict, path: Path) -> Path:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    names = ["blind", "consultancy", "debate"]
    lo, hi = zip(*(ci_bars(facts[n]) for n in names))
    a1.bar(
        names,
        [facts[n]["mean"] * 100 for n in names],
        yerr=[lo, hi],
        capsize=4,
        color=["#999999", "#4C72B0", "#C44E52"],
    )
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
    return save_figure(fig, path)


def facts_section(store: RunStore, metrics: dict, stages: dict) -> str:
    facts = metrics.get("facts")
    if not facts:
        return ""
    rows = "".join(
        f"<tr><td>{n}</td><td>{fmt_estimate(facts[n])}</td></tr>"
        for n in ("debate", "consultancy", "consultancy_honest", "consultancy_dishonest", "blind")
    )
    diffs = "".join(
        f"<tr><td>{n.replace('_minus_', ' &minus; ')}</td><td>{fmt_signed(facts[n])}</td></tr>"
        for n in ("debate_minus_consultancy", "consultancy_minus_blind")
    )
    elo = "".join(
        f"<tr><td>{r['strength']}</td><td>{r['elo']['mean']:.0f} <span class=ci>[{r['elo']['ci_low']:.0f}, "
        f"{r['elo']['ci_high']:.0f}]</span></td><td>{fmt_estimate(r['judge_accuracy_self_play'])}</td>"
        f"<td>{100 * r['win_rate_honest']:.1f}%</td><td>{100 * r['win_rate_dishonest']:.1f}%</td></tr>"
        for r in facts.get("elo", [])
    )
    parts = [
        "<h2>Information-asymmetry debate (facts)</h2>",
        (
            "<p>Debaters read a story of links between rooms; the judge sees only their quotes, each checked "
            "verbatim against the story. Debate: an honest and a dishonest debater; consultancy: one consultant, "
            "its side correct or not at random; blind: no quotes.</p>"
        ),
        f"<table><tr><th>protocol</th><th>judge accuracy [95% CI]</th></tr>{rows}</table>",
        f"<table><tr><th>difference</th><th>points [95% CI]</th></tr>{diffs}</table>",
        embed_image(facts_plot(facts, store.file("plots", "debate_facts.png"))),
    ]
    if elo:
        adv = facts["honest_advantage_elo"]
        parts += [
            (
                f"<p>Cross-play tournament over debater strengths (best-of-N quotes), {facts['games']} debates; "
                f"arguing the true side is worth {adv['mean']:.0f} Elo [{adv['ci_low']:.0f}, {adv['ci_high']:.0f}].</p>"
            ),
            (
                "<table><tr><th>N</th><th>Elo [95% CI]</th><th>judge accuracy, self-play</th>"
                f"<th>wins as honest</th><th>wins as dishonest</th></tr>{elo}</table>"
            ),
        ]
    parts += checks_html(facts)
    return "\n".join(parts)
