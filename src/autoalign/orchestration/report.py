"""``report.html``: one self-contained page per run (plots embedded), rebuilt from the run folder.

The report reads only what the run wrote (``config.yaml``, ``metrics.json``, ``stages/``), so
``autoalign report RUN_DIR`` can rebuild it at any time. Each protocol contributes its own section
(``Protocol.report``, built from ``autoalign.report``'s formatting and figures); a run fanned out over
seeds renders its pooled estimates and adds a table of per-seed values. Pre-registered endpoints
(``endpoints`` in ``metrics.json``) come first, primary apart from exploratory.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..protocol import get_protocol
from ..report.endpoints import endpoints_section
from ..runtime.store import RunStore, atomic_write_text

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:1rem;overflow:auto}
.ci{color:#666;font-size:.9em}
"""


def seeds_section(metrics: dict) -> str:
    """Every pooled estimate with its per-seed values (a run fanned out over seeds)."""
    rows = []

    def walk(node, path):
        if isinstance(node, dict) and "per_seed" in node and "mean" in node:
            vals = ", ".join(f"{v:.3f}" for v in node["per_seed"])
            rows.append(
                f"<tr><td>{html.escape(path)}</td><td>{vals}</td><td>{node['mean']:.3f} "
                f"<span class=ci>[{node['ci_low']:.3f}, {node['ci_high']:.3f}]</span></td>"
                f"<td>{html.escape(str(node.get('resampled', '')))}</td></tr>"
            )
            return
        if isinstance(node, dict):
            for k, v in node.items():
                if k != "endpoints":  # their own section
                    walk(v, f"{path}.{k}" if path else str(k))

    walk(metrics, "")
    if not rows:
        return ""
    return (
        "<h2>Seeds</h2><details><summary>Every estimate: per-seed values and the pooled 95% CI</summary>"
        "<table><tr><th>estimate</th><th>per seed</th><th>pooled [95% CI]</th><th>CI resamples</th></tr>"
        + "".join(rows)
        + "</table></details>"
    )


def write_report(store: RunStore) -> Path:
    """Write (or rewrite) the run's ``report.html`` from its folder; returns its path."""
    metrics = store.metrics
    stages = store.finished_stages
    config = store.file("config.yaml").read_text() if store.file("config.yaml").exists() else ""
    parts = []
    pooled = store.file("seeds.json").exists()
    if pooled:
        seeds = ", ".join(map(str, json.loads(store.file("seeds.json").read_text())))
        parts.append(
            f"<p>Pooled over seeds {html.escape(seeds)}: each "
            "estimate is the mean over seeds; its CI resamples seeds and problems within seeds.</p>"
        )
    sweep = store.file("sweep.json").exists()
    groups = [(k, v) for k, v in metrics.items() if k != "provenance"] if sweep else [("", metrics)]
    for label, group in groups:
        if label:
            parts.append(f"<h2>Sweep point <code>{html.escape(label)}</code></h2>")
        parts.append(endpoints_section(group.get("endpoints")))
        for name, results in group.items():
            if name == "endpoints":
                continue
            try:
                spec = get_protocol(name)
            except Exception:  # a protocol no longer installed: its numbers are still in metrics.json
                continue
            if spec.report is not None:
                section = spec.report(store, results, stages)
                if section:
                    parts.append(section)
    if pooled:
        parts.append(seeds_section(metrics))
    body = "\n".join(parts)
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
