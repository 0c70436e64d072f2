"""The report's section on process vs outcome supervision (best-of-N, active learning).

Every scorer in the results is shown: the built-ins in a fixed order, then the overseers named in
``best_of_n.overseers`` (a plugin's too), in the curves, the table and the AUROCs alike.
"""

from __future__ import annotations

import html

from ...report.fmt import embed_image, fmt_estimate, fmt_signed, text_points
from ...runtime.store import RunStore
from . import plots


def best_of_n_section(store: RunStore, metrics: dict, stages: dict) -> str:
    from ...report.sections import generator_section

    bon = metrics.get("best_of_n")
    if not bon:
        return ""
    first = next(iter(bon))  # the generator reported is the run-level world's (stage train_generator), else the first's
    stage = stages.get("train_generator") or stages.get(f"{first}.train_generator") or {}
    history = stage.get("result", {}).get("history")
    parts = [
        generator_section(store, metrics.get("generator"), history, name="best_of_n_generator"),
        "<h2>Process vs outcome supervision: best-of-N</h2>",
        "<p>Each verifier picks one of N sampled solutions; accuracy is the share of held-out problems "
        "whose chosen solution is correct, estimated over many random subsets of a larger pool per problem. "
        "The weak verifiers put a fresh linear head on the same backbone instead of keeping its "
        "language-model head: they are weaker than the generator they check, and selection exploits them.</p>",
    ]
    for world, curves in bon.items():
        ns = sorted((n for n in curves["prm"]), key=int)
        top = ns[-1]
        methods = scorers(curves)
        head = "".join(f"<th>N={n}</th>" for n in ns)
        rows = "".join(
            f"<tr><td>{method_name(m)}</td>" + "".join(f"<td>{fmt_estimate(curves[m][n])}</td>" for n in ns) + "</tr>"
            for m in methods
        )
        diffs = "".join(
            f"<tr><td>{name.replace('_vs_', ' &minus; ')}</td><td>{fmt_signed(d[top])}</td></tr>"
            for name, d in curves.get("diff", {}).items()
        )
        auroc = metrics.get("verifier_auroc", {}).get(world, {})
        within = (metrics.get("verifier_auroc_within") or {}).get(world, {})
        au = "".join(
            f"<tr><td>{method_name(m)}</td><td>{fmt_estimate(e, pct=False)}</td><td>{_auroc(within.get(m))}</td></tr>"
            for m, e in auroc.items()
        )
        acc = metrics.get("generator_sample_accuracy", {}).get(world)
        parts += [
            f"<h3>{html.escape(world)}</h3>",
            f"<p>Generator: {100 * acc:.1f}% of samples correct.</p>" if acc is not None else "",
            embed_image(plots.best_of_n_curves(curves, world, store.file("plots", f"best_of_n_{world}.png"))),
            f"<table><tr><th>method</th>{head}</tr>{rows}</table>",
            f"<p>Paired differences at N={top} (points, 95% CI over problems):</p>",
            f"<table><tr><th>difference</th><th>points [95% CI]</th></tr>{diffs}</table>",
            ablation_table(curves, top),
            AUROC_NOTE,
            f"<table><tr><th>scorer</th><th>pooled AUROC [95% CI]</th><th>within-problem AUROC [95% CI]</th></tr>{au}</table>",
        ]
    al = metrics.get("active_learning")
    if al:
        parts.append(active_learning_section(store, al))
    return "\n".join(parts)


AUROC_NOTE = (
    "<p>AUROC for final-answer correctness: over all samples pooled (CI over problems), which also rewards "
    "telling easy problems from hard ones, and within each problem's pool (mean over the problems with both "
    "correct and wrong samples, CI over them), which is the ranking reranking uses. 0.5 is chance.</p>"
)
METHODS = (
    "pass_at_n",
    "prm",
    "orm",
    "prm_cumulative",
    "orm_per_step",
    "orm_last_token",
    "orm_frozen",
    "weighted_vote",
    "majority",
    "loglik",
    "prm_weak",
    "orm_weak",
)


def scorers(curves: dict) -> list[str]:
    """The built-in scorers present, in the report's order, then any other (a listed overseer)."""
    return [m for m in METHODS if m in curves] + [m for m in curves if m not in METHODS and m not in plots.NOT_CURVES]


METHOD_NAMES = {
    "pass_at_n": "pass@N (ceiling)",
    "loglik": "loglik: generator likelihood (floor)",
    "prm_cumulative": "prm_cumulative: process labels, cumulative head",
    "orm_per_step": "orm_per_step: outcome labels, per-step head",
    "orm_last_token": "orm_last_token: linear head at the last token",
    "orm_frozen": "orm_frozen: the same head, backbone frozen",
}


def method_name(m: str) -> str:
    return METHOD_NAMES.get(m, m if m in METHODS else f"{m} (overseer)")


def _auroc(e: dict | None) -> str:
    if not e or e["mean"] != e["mean"]:  # absent, or NaN: no problem with both kinds of sample
        return "-"
    return fmt_estimate(e, pct=False)


EFFECTS = (
    ("labels", "labels, process &minus; outcome (mean over the two heads)"),
    ("aggregation", "aggregation, per-step &minus; cumulative (mean over the two label types)"),
    ("interaction", "interaction: per-step &minus; cumulative with process labels, minus the same with outcome labels"),
)


def ablation_table(curves: dict, top: str) -> str:
    """The labels x aggregation 2x2 at the largest N, with its main effects and interaction."""
    a = curves.get("ablation")
    if not a:
        return ""
    cell = {
        (lab, agg): fmt_estimate(a[f"{lab}_{agg}"][top])
        for lab in ("process", "outcome")
        for agg in ("per_step", "cumulative")
    }
    rows = "".join(
        f"<tr><td>{lab}</td><td>{cell[lab, 'per_step']}</td><td>{cell[lab, 'cumulative']}</td></tr>"
        for lab in ("process", "outcome")
    )
    floor, ceiling = curves.get("loglik", {}).get(top), curves.get("pass_at_n", {}).get(top)
    bounds = "".join(
        f"<tr><td>{name}</td><td colspan=2>{fmt_estimate(e)}</td></tr>"
        for name, e in (("generator likelihood (floor)", floor), ("pass@N (ceiling)", ceiling))
        if e
    )
    effects = "".join(f"<li>{text}: {fmt_signed(a[key][top])} points</li>" for key, text in EFFECTS)
    intro = (
        f"<p>Ablation at N={top}: the PRM and ORM differ in their labels and in how their head reads a solution "
        "(each step's own log-probability, the solution scored over every step; or the whole prefix's, scored "
        "at the last step). Crossing the two (best-of-N accuracy, 95% CI over problems):</p>"
    )
    return "\n".join(
        [
            intro,
            "<table><tr><th>labels</th><th>per-step head</th><th>cumulative head</th></tr>"
            + rows
            + bounds
            + "</table>",
            f"<ul>{effects}</ul>",
        ]
    )


def _uniform_gain(g: dict | None, budgets: list) -> str:
    if not g:
        return ""
    verdict = (
        "more uniform labels buy accuracy, so the factor can be read"
        if g["ci_low"] > 0
        else "its CI covers zero: more labels do not clearly help at this scale, so the data-efficiency factor "
        "is not identifiable; read the equal-budget difference"
    )
    return f"<p>Uniform curve, {budgets[-1]} &minus; {budgets[0]} labels: {fmt_signed(g)} points; {verdict}.</p>"


def active_learning_section(store: RunStore, al: dict) -> str:
    d = al["data_efficiency"]
    bound = " (a lower bound: active choice beat every uniform budget)" if d.get("lower_bound") else ""
    uniform_budgets = al.get("uniform_budgets", al["budgets"])
    rows = []
    for k, b in enumerate(al["budgets"]):
        diff = al.get("equal_budget_difference", {}).get(str(b))
        eq = al.get("by_budget", {}).get(str(b))
        u = al["uniform_accuracy"][uniform_budgets.index(b)] if b in uniform_budgets else None
        rows.append(
            f"<tr><td>{b}{' (seed set)' if k == 0 else ''}</td><td>{100 * al['active_accuracy'][k]:.1f}%</td>"
            + (f"<td>{100 * u:.1f}%</td>" if u is not None else "<td>-</td>")
            + (f"<td>{fmt_signed(diff)}</td>" if diff else "<td>-</td>")
            + (
                f"<td>{'&le;' if eq.get('upper_bound') else ''}{eq['equivalent_uniform_budget']:.0f}"
                f"{'+' if eq['lower_bound'] else ''} "
                f"({eq['factor']:.2f}x)</td>"
                if eq
                else "<td>-</td>"
            )
            + "</tr>"
        )
    return "\n".join(
        [
            "<h3>Active learning</h3>",
            f"<p>PRMs trained on {', '.join(map(str, uniform_budgets))} uniformly chosen labels and on "
            f"{', '.join(map(str, al['budgets'][1:]))} labels that favour convincing wrong answers (after a seed set of "
            f"{al['budgets'][0]} that trains the selector), each measured by best-of-{al['n']} accuracy on the held-out "
            "pool. The uniform curve reaches past the largest active budget, so the equivalent uniform budget can "
            "exceed the active one.</p>",
            f"<p>Data efficiency (equivalent uniform budget / active budget, median over budgets): {d['mean']:.2f}x "
            f"<span class=ci>[{d['ci_low']:.2f}, {d['ci_high']:.2f}]</span>{bound}.</p>",
            _uniform_gain(al.get("uniform_gain"), uniform_budgets),
            "<table><tr><th>labels</th><th>active</th><th>uniform</th><th>active &minus; uniform, points [95% CI]</th>"
            "<th>equivalent uniform labels</th></tr>" + "".join(rows) + "</table>",
            embed_image(plots.active_learning_curve(al, store.file("plots", "active_learning.png"))),
        ]
    )


def summary(r: dict) -> list[str]:
    lines = []
    g = r.get("generator")
    if g:
        a = g["accuracy"]
        lines.append(
            f"generator accuracy: {a['mean']:.1%} [95% CI {a['ci_low']:.1%}, {a['ci_high']:.1%}] "
            f"({g['test_problems']} problems x {g['samples_per_problem']} samples)"
        )
    for world, curves in r.get("best_of_n", {}).items():
        top = max(curves["prm"], key=int)
        shown = ["prm", "orm", "majority", "pass_at_n"] + [m for m in scorers(curves) if m not in METHODS]
        cells = ", ".join(f"{m} {curves[m][top]['mean']:.1%}" for m in shown if m in curves)
        lines.append(f"best-of-{top} on {world}: {cells}")
        d = curves["diff"].get("prm_vs_majority", {}).get(top)
        if d:
            lines.append(
                f"  PRM - majority: {d['mean'] * 100:+.1f} points [95% CI {d['ci_low'] * 100:+.1f}, "
                f"{d['ci_high'] * 100:+.1f}]"
            )
        ablation = curves.get("ablation")
        if ablation:
            lines.append(
                "  ablation: "
                + "; ".join(f"{k} {text_points(ablation[k][top])}" for k in ("labels", "aggregation", "interaction"))
            )
    al = r.get("active_learning")
    if al and "mean" in al.get("data_efficiency", {}):
        d = al["data_efficiency"]
        line = f"active learning: {d['mean']:.2f}x as data-efficient [95% CI {d['ci_low']:.2f}, {d['ci_high']:.2f}]"
        for b, e in al.get("equal_budget_difference", {}).items():
            line += f"; active - uniform at {b} labels {text_points(e)}"
        lines.append(line)
    return lines


def headline(r: dict) -> str:
    world, curves = next(iter(r["best_of_n"].items()))
    top = max(curves["prm"], key=int)
    return f"{world} best-of-{top}: PRM {curves['prm'][top]['mean']:.1%}, ORM {curves['orm'][top]['mean']:.1%}"
