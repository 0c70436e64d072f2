"""The report's "Pre-registered endpoints" section and the `autoalign endpoints` markdown table:
primary hypotheses first (with their Holm family's size), then exploratory ones, then guarantees,
which are asserted per seed and never counted as hypotheses held."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..errors import UserError


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _p_html(e: dict, primary: bool) -> str:
    if primary:
        p = e.get("p_holm")
        return "-" if p is None else f"{p:.3g} <span class=ci>(of {e.get('family_size', '?')})</span>"
    return _num(e.get("p_value"))


def _row(name: str, e: dict, primary: bool) -> str:
    sign = ">" if e["direction"] == "greater" else "<"
    per_seed = ", ".join(_num(v) for v in e.get("per_seed", []))
    est = e.get("estimate") or {}
    if "ci_low" in est:
        pooled = f"{_num(est['mean'])} <span class=ci>[{_num(est['ci_low'])}, {_num(est['ci_high'])}]</span>"
    else:
        pooled = _num(est.get("mean"))
    status = e.get("status", "")
    shown = {"held": "<b>held</b>", "not held": "not held"}.get(status, html.escape(status))
    if e.get("reason"):
        shown += f"<br><span class=ci>{html.escape(e['reason'])}</span>"
    cells = [
        f"<code>{html.escape(name)}</code>"
        + (f"<br><span class=ci>{html.escape(e['description'])}</span>" if e.get("description") else ""),
        f"<code>{html.escape(e['metric'])}</code> {sign} {e['threshold']:g}",
        per_seed,
        pooled,
        _p_html(e, primary),
        shown,
    ]
    if primary:
        cells.insert(1, html.escape(str(e.get("family") or "")))
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _guarantee_row(name: str, g: dict) -> str:
    sign = ">" if g["direction"] == "greater" else "<"
    shown = {"kept": "<b>kept</b>", "broken": "<b>broken</b>"}.get(g.get("status"), html.escape(g.get("status", "")))
    if g.get("reason"):
        shown += f"<br><span class=ci>{html.escape(g['reason'])}</span>"
    cells = [
        f"<code>{html.escape(name)}</code>"
        + (f"<br><span class=ci>{html.escape(g['description'])}</span>" if g.get("description") else ""),
        f"<code>{html.escape(g['metric'])}</code> {sign} {g['threshold']:g} on every seed",
        ", ".join(_num(v) for v in g.get("per_seed", [])),
        shown,
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def endpoints_section(block: dict | None) -> str:
    if not block or not (block.get("primary") or block.get("exploratory") or block.get("guarantees")):
        return ""
    seeds = ", ".join(map(str, block.get("seeds", [])))
    parts = [
        "<h2>Pre-registered endpoints</h2>",
        f"<p>Declared in the config before the run; seeds {html.escape(seeds)}. Each hypothesis is judged by "
        "one rule, whatever its metric: a one-sided one-sample t-test of the per-seed values against the "
        "threshold; beside it, the mean over seeds with its 95% t-interval. "
        f"{html.escape(block.get('rule', ''))}. Endpoints that did not hold are listed like the others.</p>",
    ]
    head = "<th>endpoint</th>{}<th>expected</th><th>per seed</th><th>mean [95% CI]</th><th>{}</th><th>result</th>"
    if block.get("primary"):
        parts.append(
            "<h3>Primary (Holm-corrected within each family; family size in brackets)</h3><table><tr>"
            + head.format("<th>family</th>", "Holm p")
            + "</tr>"
            + "".join(_row(n, e, True) for n, e in block["primary"].items())
            + "</table>"
        )
    if block.get("exploratory"):
        parts.append(
            "<h3>Exploratory (uncorrected; not headlines)</h3><table><tr>"
            + head.format("", "p")
            + "</tr>"
            + "".join(_row(n, e, False) for n, e in block["exploratory"].items())
            + "</table>"
        )
    if block.get("guarantees"):
        parts.append(
            "<h3>Guarantees (cannot vary by design: asserted on every seed; not hypotheses)</h3><table><tr>"
            "<th>guarantee</th><th>asserted</th><th>per seed</th><th>result</th></tr>"
            + "".join(_guarantee_row(n, g) for n, g in block["guarantees"].items())
            + "</table>"
        )
    return "\n".join(parts)


def endpoint_blocks(metrics, where: str = "") -> list[tuple[str, dict]]:
    """Every ``endpoints`` block in a metrics tree, with the sweep label it sits under ("" at the top)."""
    if not isinstance(metrics, dict):
        return []
    block = metrics.get("endpoints")
    keys = ("primary", "exploratory", "guarantees")
    found = [(where, block)] if isinstance(block, dict) and any(k in block for k in keys) else []
    for k, v in metrics.items():
        if k != "endpoints" and isinstance(v, dict):
            found += endpoint_blocks(v, f"{where}/{k}" if where else k)
    return found


def _span(seeds: list) -> str:
    if len(seeds) < 3 or seeds != list(range(seeds[0], seeds[-1] + 1)):
        return ", ".join(map(str, seeds))
    return f"{seeds[0]}-{seeds[-1]}"


def markdown_rows(run: str, block: dict, exploratory: bool = False) -> list[str]:
    """One markdown row per endpoint of one run: per-seed values, the mean over seeds with its 95%
    t-interval, p (Holm within a family of m, for primary), result; then its guarantees."""
    span = _span(block.get("seeds") or [])
    rows = []
    for kind in ("primary", "exploratory") if exploratory else ("primary",):
        for name, e in (block.get(kind) or {}).items():
            est = e.get("estimate") or {}
            if "ci_low" in est:
                pooled = f"{est['mean']:+.3f} [{est['ci_low']:+.3f}, {est['ci_high']:+.3f}]"
            else:
                pooled = "-" if est.get("mean") is None else f"{est['mean']:+.3f}"
            p = e.get("p_holm") if kind == "primary" else e.get("p_value")
            p_cell = "-" if p is None else f"{p:.3f}" + (f" (m={e.get('family_size')})" if kind == "primary" else "")
            side = ">" if e["direction"] == "greater" else "<"
            per_seed = ", ".join("-" if v is None else f"{v:+.3f}" for v in e.get("per_seed", []))
            result = "**held**" if e.get("status") == "held" else str(e.get("status", ""))
            rows.append(
                f"| {run} | {name}{'' if kind == 'primary' else ' (exploratory)'} ({side} {e['threshold']:g}) | "
                f"{span} | {per_seed} | {pooled} | {p_cell} | {result} |"
            )
    for name, g in (block.get("guarantees") or {}).items():
        side = ">" if g["direction"] == "greater" else "<"
        per_seed = ", ".join("-" if v is None else f"{v:+.3f}" for v in g.get("per_seed", []))
        result = {"kept": "kept (guarantee)", "broken": "**broken** (guarantee)"}.get(g.get("status"), g.get("status"))
        rows.append(
            f"| {run} | {name} (guarantee: {side} {g['threshold']:g} per seed) | {span} | {per_seed} | - | - | {result} |"
        )
    return rows


MARKDOWN_HEAD = [
    "| run | endpoint | seeds | per seed | mean [95% CI] | p (Holm, m) | result |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]


def endpoints_table(run_dirs: list[Path], exploratory: bool = False) -> str:
    """``autoalign endpoints``: one markdown table of the runs' endpoints, each re-judged at its
    registration's alpha, with a last column saying whether the run is confirmatory (its commit holds
    a matching registration) or exploratory, and why. Rows are labelled ``config/run`` when there are
    several runs."""
    from ..endpoints import rejudge
    from ..preregistration import confirmatory_evidence, source_checkout

    repo = source_checkout()
    lines = [MARKDOWN_HEAD[0] + " evidence |", MARKDOWN_HEAD[1] + " --- |"] + list(MARKDOWN_HEAD[2:])
    for folder in map(Path, run_dirs):
        path = folder / "metrics.json"
        if not path.is_file():
            raise UserError(f"{path}: no metrics.json (not a finished run)")
        try:
            metrics = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not JSON ({e})") from None
        blocks = endpoint_blocks(metrics)
        if not blocks:
            raise UserError(f"{path}: no endpoints block (the config declares no endpoints)")
        ok, why, alpha = confirmatory_evidence(metrics, repo)
        evidence = f"confirmatory: {why}" if ok else f"exploratory: {why}"
        run = f"{folder.parent.name}/{folder.name}" if len(run_dirs) > 1 else folder.name
        for label, block in blocks:
            block = rejudge(block, alpha)  # at the registration's alpha (0.05 when exploratory)
            rows = markdown_rows(f"{run}{' ' + label if label else ''}", block, exploratory)
            lines += [f"{row} {evidence} |" if row.startswith("|") else row for row in rows]
    return "\n".join(lines)
