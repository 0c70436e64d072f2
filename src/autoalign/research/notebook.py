"""The lab notebook (every proposal, its rationale, runs, scores, decision and compute), the
compute-to-alignment curve, the sealed test's summary, and the research run's page.

Behind the boundary the notebook also holds one row per task canary (proposer ``canary``: its runs on
the fresh seeds and a verdict per seed, ``task_canaries.py``), and the summary says whether every
canary was caught on every seed. A kept method's code whose student failed or was flagged on a sealed
seed is not reported (no mean): leaving that seed out could only raise its score.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..measures import seed_t_test
from ..runtime.store import atomic_write_text
from .code_runs import failure
from .gate import detectable_gain, paired


class Notebook:
    """Rows appended in order and written whole (atomically) after each: a stopped run loses nothing."""

    def __init__(self, path: Path):
        self.path, self.rows = Path(path), []

    def add(
        self,
        proposer: str,
        k: int,
        params: dict | None,
        rationale: str,
        runs: list[dict],
        decision: dict,
        batch: int = 0,
        **more,
    ) -> None:
        """One proposal's row; a rejected one has no runs (``more``: a model's raw reply, its code).
        ``batch``: the proposer's batch it was made in (1, 2, ...; 0: the baseline's rows)."""
        pgrs = [run["methods"]["tunable"]["pgr"] for run in runs]
        vals = [v for v in pgrs if v is not None]
        self.rows.append(
            {
                "id": len(self.rows),
                "proposer": proposer,
                "k": k,
                "batch": batch,
                "params": params,
                "rationale": rationale,
                "seeds": [run["seed"] for run in runs],
                "validation_pgr": pgrs,
                "mean_validation_pgr": sum(vals) / len(vals) if vals else None,  # over seeds with a PGR
                "decision": decision,
                "seconds": round(sum(run["seconds"] for run in runs), 1),
                **more,
            }
        )
        atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in self.rows))


def _stats(values: list) -> dict:
    vals = [v for v in values if v is not None]  # a seed under the gap guard has no PGR for any method
    out = {"per_seed": values, "mean": sum(vals) / len(vals) if vals else None, "seeds": len(vals)}
    if len(vals) >= 2:
        t = seed_t_test(vals, 0.0, "greater")
        out.update(ci_low=float(t["ci_low"]), ci_high=float(t["ci_high"]))
    return out


def _paired(a: list, b: list) -> dict:
    """a - b per seed (the seeds both have a PGR on), with its t-interval and one-sided p (a > b)."""
    xs, ys, failed = paired(a, b)
    if failed or len(xs) < 2:
        return {"per_seed": None, "mean": None, "p": None}
    d = [x - y for x, y in zip(xs, ys)]
    t = seed_t_test(d, 0.0, "greater")
    p = float(t["p"])
    return {
        "per_seed": d,
        "mean": float(t["mean"]),
        "ci_low": float(t["ci_low"]),
        "ci_high": float(t["ci_high"]),
        "p": None if p != p else p,
    }


def curves(rows: list[dict]) -> dict:
    """Per proposer: after each proposal, the compute spent so far (seconds, the baseline's included)
    and the incumbent's mean validation PGR: the compute-to-alignment curve."""
    base = [r for r in rows if r["proposer"] == "baseline"]
    spent0 = sum(r["seconds"] for r in base)
    out = {}
    for name in dict.fromkeys(r["proposer"] for r in rows if r["proposer"] not in ("baseline", "canary")):
        best, spent, points = base[0]["mean_validation_pgr"], spent0, []
        for r in (r for r in rows if r["proposer"] == name):
            spent += r["seconds"]
            if r["decision"]["kept"]:
                best = r["mean_validation_pgr"]
            points.append({"k": r["k"], "seconds": round(spent, 1), "incumbent_validation_pgr": best})
        out[name] = points
    return out


def final_summary(
    r,
    pair: tuple,
    floor: dict,
    first: list,
    incumbents: dict,
    sealed: dict,
    rows: list,
    seconds: float,
    task_canaries: dict | None = None,
) -> dict:
    """The run's result; ``task_canaries``: the task canaries' verdicts (``task_canaries.verdicts``)."""

    def pgr(runs, name):
        return [run["methods"][name]["pgr"] for run in runs]

    base_test = pgr(sealed["baseline+ce"], "confidence")
    test = {"ce": _stats(pgr(sealed["baseline+ce"], "ce")), "baseline": _stats(base_test)}
    base_val = [run["methods"]["tunable"]["pgr"] for run in first]
    proposers = {}
    for name, inc in incumbents.items():
        kept = inc["params"] != dict(r.baseline)
        values = pgr(sealed[name], "tunable") if kept else base_test
        test[name] = _stats(values)
        unreported = failure(sealed[name]) if kept and inc.get("code") else None
        if unreported:  # a failed or flagged sealed seed: never reported
            test[name] = {"per_seed": values, "mean": None, "seeds": 0, "not_reported": unreported}
        proposers[name] = {
            "proposals": sum(1 for row in rows if row["proposer"] == name),
            "kept": sum(1 for row in rows if row["proposer"] == name and row["decision"]["kept"]),
            "rejected": sum(1 for row in rows if row["proposer"] == name and row["decision"].get("rejected")),
            "failed": sum(1 for row in rows if row["proposer"] == name and row["decision"].get("failed")),
            "final": inc["params"],
            **({"final_code": f"accepted-{name}.py"} if inc.get("code") else {}),
            "validation_gain": _paired(inc["validation_pgr"], base_val),
            "test_gain": _paired(values, base_test),
        }
    canaries = {}
    for run in sealed["baseline+ce"]:
        for kind, c in run["canaries"].items():
            canaries.setdefault(kind, []).append(c["caught"])
    caught = {k: all(v) for k, v in canaries.items()}
    caught.update({k: v["caught"] for k, v in (task_canaries or {}).items()})
    return {
        "pair": list(pair),
        "search_seeds": r.search_seeds,
        "test_seeds": r.test_seeds,
        "baseline": dict(r.baseline),
        "alpha": r.alpha,
        "noise_floor": floor,
        "proposers": proposers,
        "sealed_test_pgr": test,
        "canaries_caught": caught,
        "every_canary_caught": all(caught.values()),
        **({"task_canaries": task_canaries} if task_canaries is not None else {}),
        "curves": curves(rows),
        "compute": {
            "seconds": round(seconds, 1),
            "evaluations": sum(len(row["seeds"]) for row in rows),
        },
    }


def _f(x, signed: bool = False) -> str:
    return "-" if x is None else (f"{x:+.3f}" if signed else f"{x:.3f}")


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def summary_lines(result: dict) -> list[str]:
    t = result["sealed_test_pgr"]
    floor = result["noise_floor"]
    looks = max((p["proposals"] for p in result["proposers"].values()), default=1)
    last = (
        f", the {_ordinal(looks)} {_f(detectable_gain(floor['sd'], floor['n'], looks, result['alpha']))}"
        if floor["sd"] is not None and looks > 1 and result.get("alpha")
        else ""
    )
    lines = [
        f"research: noise floor (identical reruns) SD {_f(floor['sd'])} PGR over {floor['n']} search seeds; "
        f"smallest gain the first look could keep {_f(floor['detectable_gain'])}{last}",
    ]
    for name, p in result["proposers"].items():
        head = (
            f"  {name}: {p['proposals']} proposals, {p['kept']} kept"
            + (f", {p['rejected']} rejected (not run)" if p.get("rejected") else "")
            + (f", {p['failed']} failed in the sandbox" if p.get("failed") else "")
            + (f"; kept method code: {p['final_code']}" if p.get("final_code") else "")
        )
        if not p["kept"]:  # its final method is the baseline itself: nothing to compare on the sealed test
            lines.append(head + "; nothing kept: no sealed-test comparison (a gain of 0 by construction, untested)")
            continue
        v, g = p["validation_gain"], p["test_gain"]
        lines.append(
            head + f"; validation gain {_f(v['mean'], True)}, "
            f"sealed-test gain {_f(g['mean'], True)} [{_f(g.get('ci_low'), True)}, {_f(g.get('ci_high'), True)}]"
            f" (p {_f(g.get('p'))})"
        )
    shown = {k: v for k, v in t.items() if k in ("ce", "baseline") or result["proposers"].get(k, {}).get("kept")}
    cells = ", ".join(f"{k} {_f(v['mean'])} [{_f(v.get('ci_low'))}, {_f(v.get('ci_high'))}]" for k, v in shown.items())
    lines.append(f"  sealed-test PGR on fresh seeds {result['test_seeds']}: {cells}")
    caught = ", ".join(f"{k} {'caught' if ok else 'NOT caught'}" for k, ok in result["canaries_caught"].items())
    every = "yes" if result.get("every_canary_caught", all(result["canaries_caught"].values())) else "NO"
    lines.append(
        f"  canaries on every test seed: {caught}; every canary caught on every seed: {every}; "
        f"compute {result['compute']['seconds'] / 60:.1f} min"
    )
    for name, v in result.get("task_canaries", {}).items():
        seeds = "; ".join(
            f"seed {s['seed']}: {'caught' if s['caught'] else 'NOT caught'} ({s['why']})" for s in v["seeds"]
        )
        lines.append(f"    {name}: {v['reason']} ({v['gate']}); {seeds}")
    return lines


def _decision(d: dict) -> str:
    if d.get("canary"):
        seeds = "".join(
            f"<br>seed {s['seed']}: {'caught' if s['caught'] else '<b>NOT caught</b>'} ({html.escape(s['why'])})"
            for s in d["verdicts"]
        )
        return f"canary {'caught' if d['caught'] else '<b>NOT caught</b>'}: {html.escape(d['reason'])}{seeds}"
    if d.get("rejected"):  # its reason starts "rejected: "
        return html.escape(d["reason"]) + (f"<br>{html.escape(d['stopped'])}" if d.get("stopped") else "")
    if d.get("failed"):  # its reason starts "failed: "
        return html.escape(d["reason"])
    return f"{'<b>kept</b>' if d['kept'] else 'discarded'}: {html.escape(d['reason'])}"


def _shown(row: dict, key: str, label: str) -> str:
    """A model's reply or code, escaped and folded (text, never a link or a script)."""
    if not row.get(key):
        return ""
    return f"<details><summary>{label}</summary><pre>{html.escape(row[key])}</pre></details>"


def write_report(run_dir: Path, result: dict, rows: list[dict]) -> Path:
    """research.html: the summary, the curve and every notebook row."""
    from ..report.figures import plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, points in result["curves"].items():
        ax.step(
            [p["seconds"] / 60 for p in points],
            [p["incumbent_validation_pgr"] for p in points],
            where="post",
            label=name,
        )
    ax.set_xlabel("compute (minutes of worker time)")
    ax.set_ylabel("incumbent's validation PGR")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "curve.png", dpi=100)
    plt.close(fig)
    head = (
        "<tr><th>#</th><th>proposer</th><th>options</th><th>rationale</th><th>validation PGR per seed</th>"
        "<th>decision</th><th>s</th></tr>"
    )
    body = "".join(
        f"<tr><td>{r['id']}</td><td>{html.escape(str(r['proposer']))} {r['k']}</td>"
        f"<td>{html.escape(json.dumps(r['params']))}</td>"
        f"<td>{html.escape(r['rationale'])}"
        f"{_shown(r, 'code', 'code (not executed)' if r['decision'].get('rejected') else 'code (run in the sandbox)')}"
        f"{_shown(r, 'reply', 'reply')}</td>"
        f"<td>{', '.join(_f(v) for v in r['validation_pgr'])}</td>"
        f"<td>{_decision(r['decision'])}</td>"
        f"<td>{r['seconds']}</td></tr>"
        for r in rows
    )
    page = (
        "<html><head><meta charset='utf-8'><title>autoalign research</title></head><body>"
        "<h1>Automated research: weak-to-strong</h1><pre>"
        + html.escape("\n".join(summary_lines(result)))
        + "</pre><img src='curve.png'><h2>Lab notebook</h2><table border=1>"
        + head
        + body
        + "</table></body></html>"
    )
    atomic_write_text(run_dir / "research.html", page)
    return run_dir / "research.html"
