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
    cells = [f"<code>{html.escape(name)}</code>" + (f"<br><span class=ci>{html.escape(e['description'])}</span>"
                                                     if e.get("description") else ""),
             f"<code>{html.escape(e['metric'])}</code> {sign} {e['threshold']:g}", per_seed, pooled, p, shown]
    if primary:
        cells.insert(1, html.escape(str(e.get("family") or "")))
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def endpoints_section(block: dict | None) -> str:
    if not block or not (block.get("primary") or block.get("exploratory")):
        return ""
    seeds = ", ".join(map(str, block.get("seeds", [])))
    parts = ["<h2>Pre-registered endpoints</h2>",
             f"<p>Declared in the config before the run; seeds {html.escape(seeds)}. Pooled estimates are means "
             "over seeds with 95% CIs that resample seeds, then problems within seeds (seeds alone where a "
             "statistic has no per-problem values); p is one-sided, read off the same bootstrap distribution. "
             f"{html.escape(block.get('rule', ''))}. Endpoints that did not hold are listed like the others.</p>"]
    head = "<th>endpoint</th>{}<th>expected</th><th>per seed</th><th>pooled [95% CI]</th><th>{}</th><th>result</th>"
    if block.get("primary"):
        parts.append("<h3>Primary (Holm-corrected within each family)</h3><table><tr>"
                     + head.format("<th>family</th>", "Holm p") + "</tr>"
                     + "".join(_row(n, e, True) for n, e in block["primary"].items()) + "</table>")
    if block.get("exploratory"):
        parts.append("<h3>Exploratory (uncorrected; not headlines)</h3><table><tr>"
                     + head.format("", "p") + "</tr>"
                     + "".join(_row(n, e, False) for n, e in block["exploratory"].items()) + "</table>")
    return "\n".join(parts)
