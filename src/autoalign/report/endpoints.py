"""The report's "Pre-registered endpoints" section: primary endpoints first, then exploratory ones."""

from __future__ import annotations

import html


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _row(name: str, e: dict, primary: bool) -> str:
    sign = ">" if e["direction"] == "greater" else "<"
    per_seed = ", ".join(_num(v) for v in e.get("per_seed", []))
    est = e.get("estimate")
    if est and "ci_low" in est:
        pooled = f"{_num(est['mean'])} <span class=ci>[{_num(est['ci_low'])}, {_num(est['ci_high'])}]</span>"
    else:
        pooled = "-"
    p = _num(e.get("p_holm") if primary else e.get("p_value"))
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
        p,
        shown,
    ]
    if primary:
        cells.insert(1, html.escape(str(e.get("family") or "")))
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def endpoints_section(block: dict | None) -> str:
    if not block or not (block.get("primary") or block.get("exploratory")):
        return ""
    seeds = ", ".join(map(str, block.get("seeds", [])))
    parts = [
        "<h2>Pre-registered endpoints</h2>",
        f"<p>Declared in the config before the run; seeds {html.escape(seeds)}. Pooled estimates are means "
        "over seeds with 95% CIs that resample seeds, then problems within seeds (seeds alone where a "
        "statistic has no per-problem values); p is one-sided, read off the same bootstrap distribution. "
        f"{html.escape(block.get('rule', ''))}. Endpoints that did not hold are listed like the others.</p>",
    ]
    head = "<th>endpoint</th>{}<th>expected</th><th>per seed</th><th>pooled [95% CI]</th><th>{}</th><th>result</th>"
    if block.get("primary"):
        parts.append(
            "<h3>Primary (Holm-corrected within each family)</h3><table><tr>"
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
    return "\n".join(parts)


def endpoint_blocks(metrics, where: str = "") -> list[tuple[str, dict]]:
    """Every ``endpoints`` block in a metrics tree, with the sweep label it sits under ("" at the top)."""
    if not isinstance(metrics, dict):
        return []
    block = metrics.get("endpoints")
    found = [(where, block)] if isinstance(block, dict) and ("primary" in block or "exploratory" in block) else []
    for k, v in metrics.items():
        if k != "endpoints" and isinstance(v, dict):
            found += endpoint_blocks(v, f"{where}/{k}" if where else k)
    return found


def markdown_rows(run: str, block: dict, exploratory: bool = False) -> list[str]:
    """One markdown row per endpoint of one run: per-seed values, pooled CI, p (Holm for primary), result."""
    seeds = block.get("seeds") or []
    span = (
        ", ".join(map(str, seeds))
        if len(seeds) < 3 or seeds != list(range(seeds[0], seeds[-1] + 1))
        else f"{seeds[0]}-{seeds[-1]}"
    )
    rows = []
    for kind in ("primary", "exploratory") if exploratory else ("primary",):
        for name, e in (block.get(kind) or {}).items():
            est = e.get("estimate") or {}
            pooled = f"{est['mean']:+.3f} [{est['ci_low']:+.3f}, {est['ci_high']:+.3f}]" if "ci_low" in est else "-"
            p = e.get("p_holm") if kind == "primary" else e.get("p_value")
            side = ">" if e["direction"] == "greater" else "<"
            per_seed = ", ".join("-" if v is None else f"{v:+.3f}" for v in e.get("per_seed", []))
            result = "**held**" if e.get("status") == "held" else str(e.get("status", ""))
            rows.append(
                f"| {run} | {name}{'' if kind == 'primary' else ' (exploratory)'} ({side} {e['threshold']:g}) | "
                f"{span} | {per_seed} | {pooled} | {'-' if p is None else f'{p:.3f}'} | {result} |"
            )
    return rows


MARKDOWN_HEAD = [
    "| run | endpoint | seeds | per seed | pooled [95% CI] | p (Holm) | result |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
