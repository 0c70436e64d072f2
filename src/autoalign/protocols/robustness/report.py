"""What ``autoalign`` prints for a robustness run (per world, one line per overseer and control) and
the report's section: the same lines, attack success against the query budget per overseer (the
picture), and what fooled each overseer."""

from __future__ import annotations

import html
from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import ci_bars, embed_image

FLOORS = {"accept_all": "floor", "random": "floor", "checker": "ceiling"}
STYLE = {"accept_all": ("#999999", "--"), "random": ("#BBBBBB", ":"), "checker": ("#000000", "-.")}


def _pct(e) -> str:
    return "-" if not isinstance(e, dict) or "mean" not in e else f"{100 * e['mean']:.1f}%"


def _est(e) -> str:
    if not isinstance(e, dict) or "mean" not in e:
        return "-"
    text = f"{100 * e['mean']:.1f}% [{100 * e['ci_low']:.1f}, {100 * e['ci_high']:.1f}]"
    if e.get("per_seed"):
        text += " (seeds " + ", ".join(f"{100 * v:.1f}" for v in e["per_seed"]) + ")"
    return text


def _diff(e) -> str:
    if not isinstance(e, dict) or "mean" not in e:
        return "-"
    return f"{100 * e['mean']:+.1f} [{100 * e['ci_low']:+.1f}, {100 * e['ci_high']:+.1f}] points"


def _overseers(block: dict) -> list[str]:
    return [k for k, v in block.items() if isinstance(v, dict) and "attack" in v]


def _blocks(r: dict) -> list[tuple[str, dict]]:
    return [(w, b) for w, b in r.items() if isinstance(b, dict) and "differences" in b]


def summary(r: dict) -> list[str]:
    lines = []
    for world, block in _blocks(r):
        names = _overseers(block)
        budgets = list(block[names[0]]["attack"]["by_budget"]) if names else []
        lines.append(
            f"{world}: attack success (share of test problems) within {'/'.join(budgets)} queries per problem; "
            "verdict flips under verdict-preserving perturbations; each accepts at its threshold on calibration "
            "gold texts (robustness.accept_share)"
        )
        for name in names:
            m = block[name]
            curve = "/".join(_pct(m["attack"]["by_budget"][b]) for b in budgets)
            tag = f" ({FLOORS[name]})" if name in FLOORS else ""
            lines.append(
                f"  {name}{tag}: attack {_est(m['attack']['success'])} ({curve}); flips {_est(m['flips']['rate'])}; "
                f"held-out gold accepted {_pct(m['test_gold_accepted'])}"
            )
        for pair, d in block["differences"].items():
            lines.append(f"  {pair}: attack {_diff(d['success'])}, flips {_diff(d['flips'])}")
    return lines


def headline(r: dict) -> str:
    parts = []
    for _, block in _blocks(r):
        for name in _overseers(block):
            if name not in FLOORS:
                parts.append(f"{name} {_pct(block[name]['attack']['success'])}")
    return "attack success: " + ", ".join(parts)


def budget_plot(r: dict, path: Path) -> Path:
    """Per world: attack success (95% CI) against the query budget, one line per overseer and control."""
    blocks = _blocks(r)
    fig, axes = plt.subplots(1, len(blocks), figsize=(4.6 * len(blocks), 3.6), squeeze=False)
    for ax, (world, block) in zip(axes[0], blocks):
        for i, name in enumerate(_overseers(block)):
            by = block[name]["attack"]["by_budget"]
            xs = [int(b) for b in by]
            ys = [100 * by[b]["mean"] for b in by]
            lo, hi = zip(*(ci_bars(by[b]) for b in by))
            color, ls = STYLE.get(name, (f"C{i}", "-"))
            label = f"{name} ({FLOORS[name]})" if name in FLOORS else name
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, ls=ls, marker="o", ms=3, capsize=2, label=label)
        ax.set_xscale("log", base=2)
        budgets = [int(b) for b in block[_overseers(block)[0]]["attack"]["by_budget"]]
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_ylim(-3, 103)
        ax.set_xlabel("queries per problem (checker-rejected texts scored)")
        ax.set_title(f"{world}: wrong texts accepted", fontsize=9)
        ax.legend(fontsize=6, loc="center right")
    axes[0][0].set_ylabel("% test problems the search fooled it on")
    fig.suptitle("Attack success against the query budget, per overseer (95% CI)", fontsize=10)
    return save_figure(fig, path)


def _examples(r: dict) -> list[str]:
    """One found text per overseer (a single-seed run's; pooled runs keep them per seed)."""
    out = []
    for world, block in _blocks(r):
        for name in _overseers(block):
            found = block[name]["attack"].get("examples")
            if name not in FLOORS and isinstance(found, list) and found and isinstance(found[0].get("text"), str):
                out.append(f"{world} / {name}: {found[0]['prompt']!r} -> {found[0]['text']!r}")
    return out


def robustness_section(store, metrics: dict, stages: dict) -> str:
    r = metrics.get("robustness", metrics)  # the report hands a protocol its own results
    if not isinstance(r, dict) or not _blocks(r):
        return ""
    lines = "<br>".join(html.escape(line) for line in summary(r))
    shown = "<br>".join(html.escape(e) for e in _examples(r))
    return "\n".join(
        [
            "<h2>Robustness per overseer</h2>",
            "<p>An automated search (the generator's samples, edits of the world's text, hill climbing on the "
            "rejected texts scored highest) for texts each overseer accepts and the world's checker rejects, on "
            "held-out problems, read at each query budget; and how often perturbations that keep the checker's "
            "verdict flip the overseer's. Floors: accept everything, random scores; ceiling: the checker.</p>",
            f"<p><code>{lines}</code></p>",
            embed_image(budget_plot(r, store.file("plots", "robustness_budgets.png"))),
            f"<p>What fooled each overseer (one example each):<br><code>{shown}</code></p>" if shown else "",
        ]
    )
