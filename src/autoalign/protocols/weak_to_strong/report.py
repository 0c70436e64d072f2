"""Weak-to-strong in the CLI summary and the report: the table per pair and method, the PGR heatmap
over weak x strong sizes, the noise floor, and whether the canaries were caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...report.figures import plt, save_figure
from ...report.fmt import embed_image, fmt_estimate, text_estimate
from ...runtime.store import RunStore


def _pgr_text(p: dict | None) -> str:
    return "-" if p is None else f"{p['mean']:+.2f} [{p['ci_low']:+.2f}, {p['ci_high']:+.2f}]"


def _pairs(r: dict) -> dict:
    return r["weak_to_strong"]["pairs"]


def summary(r: dict) -> list[str]:
    lines = []
    for pair, p in _pairs(r).items():
        head = f"{pair}: weak {text_estimate(p['weak'])}, ceiling {text_estimate(p['ceiling'])}"
        lines.append(head + (f" ({p['guard']})" if p["guard"] else ""))
        for m, v in p["methods"].items():
            flags = f"  FLAGGED: {'; '.join(v['flags'])}" if v["flags"] else ""
            lines.append(f"  {m}: student {text_estimate(v['student'])}, PGR {_pgr_text(v['pgr'])}{flags}")
        if p.get("noise_floor") is not None:
            lines.append(f"  noise floor (std of PGR over student seeds): {p['noise_floor']:.2f}")
    for kind, c in r["weak_to_strong"].get("canaries", {}).items():
        lines.append(
            f"canary {kind}: {'caught' if c['caught'] else 'NOT CAUGHT'} ({'; '.join(c['flags']) or 'no flags'})"
        )
    return lines


def headline(r: dict) -> str:
    pairs = _pairs(r)
    last = list(pairs)[-1]
    ce = pairs[last]["methods"].get("ce", {}).get("pgr")
    return f"{last}: PGR(ce) {ce['mean']:+.2f}" if ce else f"{last}: no PGR"


def heatmap(pairs: dict, method: str, path: Path) -> Path:
    weak = list(dict.fromkeys(k.split("->")[0] for k in pairs))
    strong = list(dict.fromkeys(k.split("->")[1] for k in pairs))
    grid = np.full((len(weak), len(strong)), np.nan)
    for k, p in pairs.items():
        a, b = k.split("->")
        pgr = p["methods"].get(method, {}).get("pgr")
        if pgr is not None:
            grid[weak.index(a), strong.index(b)] = pgr["mean"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(strong), 1.2 + 1.0 * len(weak)))
    im = ax.imshow(grid, cmap="RdYlGn", vmin=-0.5, vmax=1.0)
    for i in range(len(weak)):
        for j in range(len(strong)):
            ax.text(j, i, "-" if np.isnan(grid[i, j]) else f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(strong)), strong)
    ax.set_yticks(range(len(weak)), weak)
    ax.set_xlabel("strong student")
    ax.set_ylabel("weak supervisor")
    ax.set_title(f"PGR ({method})")
    fig.colorbar(im, ax=ax, fraction=0.05)
    return save_figure(fig, path)


def w2s_section(store: RunStore, r: dict, stages: dict) -> str:
    res = r.get("weak_to_strong")
    if not res:
        return ""
    pairs = res["pairs"]
    rows = []
    for pair, p in pairs.items():
        for m, v in p["methods"].items():
            pgr = v["pgr"]
            rows.append(
                f"<tr><td>{pair}</td><td>{m}</td><td>{fmt_estimate(p['weak'])}</td><td>{fmt_estimate(v['student'])}</td>"
                f"<td>{fmt_estimate(p['ceiling'])}</td><td>{_pgr_text(pgr) if pgr else p['guard'] or '-'}</td>"
                f"<td>{fmt_estimate(v['agreement'])}</td><td>{'; '.join(v['flags']) or ''}</td></tr>"
            )
    floors = ", ".join(f"{k} {p['noise_floor']:.2f}" for k, p in pairs.items() if p.get("noise_floor") is not None)
    canaries = "".join(
        f"<li>{k}: {'caught' if c['caught'] else '<b>not caught</b>'} ({'; '.join(c['flags'])}), "
        f"accuracy {fmt_estimate(c['accuracy'])}</li>"
        for k, c in res.get("canaries", {}).items()
    )
    methods = list(dict.fromkeys(m for p in pairs.values() for m in p["methods"]))
    maps = [
        embed_image(heatmap(pairs, m, store.file("plots", f"w2s_pgr_{m}.png")))
        for m in methods
        if m in ("ce", "confidence")
    ]
    return "\n".join(
        [
            "<h2>Weak-to-strong generalization</h2>",
            f"<p>Task: {res.get('task')}. A weak supervisor trained on ground truth labels a disjoint transfer set; a "
            "stronger student trains on those labels; the ceiling is the strong model trained on the transfer set's ground "
            "truth. PGR = (student - weak) / (ceiling - weak) on the same sealed test items (paired CI over items). "
            "Agreement: share of test items where student and supervisor agree (high agreement with a low PGR means the "
            "student imitated the supervisor's mistakes).</p>",
            "<table><tr><th>pair</th><th>method</th><th>weak</th><th>student</th><th>ceiling</th><th>PGR</th>"
            f"<th>agreement</th><th>flags</th></tr>{''.join(rows)}</table>",
            f"<p>Noise floor (std of naive PGR over student seeds): {floors or 'not measured'}.</p>",
            f"<p>Canaries (methods a careless optimizer would love; each must be flagged):</p><ul>{canaries}</ul>",
            *maps,
        ]
    )
