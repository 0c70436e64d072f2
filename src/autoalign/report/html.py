"""``report.html``: one self-contained page per run (plots embedded), rebuilt from the run folder.

The report reads only what the run wrote (``config.yaml``, ``metrics.json``, ``stages.json``), so
``autoalign report RUN_DIR`` can rebuild it at any time. Each experiment contributes a section.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..runtime.store import RunStore, atomic_write_text
from . import plots
from .debate import digits_section, facts_section
from .gdc import gdc_section
from .fmt import embed_image, fmt_estimate, fmt_signed

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:1rem;overflow:auto}
.ci{color:#666;font-size:.9em}
"""


def generator_section(store: RunStore, metrics: dict, stages: dict) -> str:
    g = metrics.get("generator")
    if not g:
        return ""
    rows = "".join(
        f"<tr><td>{k}</td><td>{fmt_estimate(e)}</td><td>{e['n']}</td></tr>"
        for k, e in sorted(g["accuracy_by_steps"].items(), key=lambda kv: int(kv[0]))
    )
    parts = [
        "<h2>Generator</h2>",
        f"<p>{g['test_problems']} held-out problems, {g['samples_per_problem']} samples each at "
        f"temperature {g['temperature']}; {g['params'] / 1e6:.2f}M parameters.</p>",
        "<table><tr><th>measure</th><th>value [95% CI]</th></tr>",
        f"<tr><td>samples correct</td><td>{fmt_estimate(g['accuracy'])}</td></tr>",
        f"<tr><td>well-formed samples</td><td>{fmt_estimate(g['well_formed'])}</td></tr>",
        f"<tr><td>greedy accuracy</td><td>{100 * g['greedy_accuracy']:.1f}%</td></tr></table>",
        "<table><tr><th>steps</th><th>samples correct [95% CI]</th><th>problems</th></tr>",
        rows,
        "</table>",
        embed_image(plots.accuracy_by_steps(g["accuracy_by_steps"], g["accuracy"], store.file("plots", "accuracy_by_steps.png"))),
    ]
    history = stages.get("train_generator", {}).get("result", {}).get("history")
    if history:
        parts.append(embed_image(plots.training_curve(history, store.file("plots", "generator_training.png"))))
    return "\n".join(parts)


def best_of_n_section(store: RunStore, metrics: dict, stages: dict) -> str:
    bon = metrics.get("best_of_n")
    if not bon:
        return ""
    parts = ["<h2>Process vs outcome supervision: best-of-N</h2>",
             "<p>Each verifier picks one of N sampled solutions; accuracy is the share of held-out problems "
             "whose chosen solution is correct, estimated over many random subsets of a larger pool per problem. "
             "The weak verifiers put a fresh linear head on the same backbone instead of keeping its "
             "language-model head: they are weaker than the generator they check, and selection exploits them.</p>"]
    for world, curves in bon.items():
        ns = sorted((n for n in curves["prm"]), key=int)
        top = ns[-1]
        methods = [m for m in ("pass_at_n", "prm", "orm", "weighted_vote", "majority", "loglik", "prm_weak", "orm_weak")
                   if m in curves]
        head = "".join(f"<th>N={n}</th>" for n in ns)
        rows = "".join(
            f"<tr><td>{m}</td>" + "".join(f"<td>{fmt_estimate(curves[m][n])}</td>" for n in ns) + "</tr>" for m in methods
        )
        diffs = "".join(
            f"<tr><td>{name.replace('_vs_', ' &minus; ')}</td><td>{fmt_signed(d[top])}</td></tr>"
            for name, d in curves.get("diff", {}).items()
        )
        auroc = metrics.get("verifier_auroc", {}).get(world, {})
        au = "".join(f"<tr><td>{m}</td><td>{fmt_estimate(e, pct=False)}</td></tr>" for m, e in auroc.items())
        acc = metrics.get("generator_sample_accuracy", {}).get(world)
        parts += [
            f"<h3>{html.escape(world)}</h3>",
            f"<p>Generator: {100 * acc:.1f}% of samples correct.</p>" if acc is not None else "",
            embed_image(plots.best_of_n_curves(curves, world, store.file("plots", f"best_of_n_{world}.png"))),
            f"<table><tr><th>method</th>{head}</tr>{rows}</table>",
            f"<p>Paired differences at N={top} (points, 95% CI over problems):</p>",
            f"<table><tr><th>difference</th><th>points [95% CI]</th></tr>{diffs}</table>",
            "<p>AUROC for final-answer correctness, all pooled samples:</p>",
            f"<table><tr><th>scorer</th><th>AUROC [95% CI]</th></tr>{au}</table>",
        ]
    al = metrics.get("active_learning")
    if al:
        d = al["data_efficiency"]
        bound = " (a lower bound: active choice beat every uniform budget)" if d.get("lower_bound") else ""
        parts += [
            "<h3>Active learning</h3>",
            f"<p>Data efficiency of labelling convincing wrong answers: {d['mean']:.2f}x "
            f"<span class=ci>[{d['ci_low']:.2f}, {d['ci_high']:.2f}]</span>{bound}.</p>",
            embed_image(plots.active_learning_curve(al, store.file("plots", "active_learning.png"))),
        ]
    return "\n".join(parts)


SECTIONS = [generator_section, best_of_n_section, gdc_section, digits_section, facts_section]


def write_report(store: RunStore) -> Path:
    metrics = store.metrics
    stages = store.finished_stages
    config = store.file("config.yaml").read_text() if store.file("config.yaml").exists() else ""
    body = "\n".join(s for s in (section(store, metrics, stages) for section in SECTIONS) if s)
    timing = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{info['seconds']:.1f}</td></tr>" for name, info in stages.items()
    )
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>autoalign run {html.escape(store.path.name)}"
        f"</title><style>{CSS}</style></head><body><h1>autoalign run <code>{html.escape(store.path.name)}</code></h1>"
        f"{body}<h2>Stages</h2><table><tr><th>stage</th><th>seconds</th></tr>{timing}</table>"
        f"<h2>Config</h2><pre>{html.escape(config)}</pre></body></html>"
    )
    path = store.file("report.html")
    atomic_write_text(path, page)
    return path
