"""The report's tables for the checks on the facts judge (issue #11): calibration per protocol,
the share of transcripts showing the whole proof, feature ablations, planning debaters, long walks.

Each table renders only when its metrics exist, so older runs and runs that skip a check still
produce a report.
"""

from __future__ import annotations

from ...report.fmt import fmt_estimate, fmt_signed

PROTOCOLS = ("debate", "consultancy", "consultancy_honest", "consultancy_dishonest", "blind")


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def calibration_html(cal: dict) -> str:
    rows = []
    for p in PROTOCOLS:
        raw, c = cal["raw"][p], cal["calibrated"][p]
        rows.append(
            [p]
            + [fmt_estimate(s["accuracy"]) for s in (raw, c)]
            + [fmt_estimate(s["mean_p_correct"]) for s in (raw, c)]
            + [fmt_estimate(s["log_loss"], pct=False) for s in (raw, c)]
        )
    maps = ", ".join(f"{p}: slope {m['slope']:.2f}, intercept {m['intercept']:+.2f}" for p, m in cal["maps"].items())
    diffs = [
        [n.replace("_minus_", " &minus; "), fmt_signed(cal["raw_diff"][n]), fmt_signed(cal["calibrated_diff"][n])]
        for n in ("debate_minus_consultancy", "consultancy_minus_blind")
    ]
    return "\n".join(
        [
            "<h3>Calibrated judge</h3>",
            (
                f"<p>Each protocol's Platt map on the judge's logit was fit on that protocol's transcripts of "
                f"{cal['questions']} held-out calibration questions (the val split: neither the judge's training "
                f"questions nor the test ones), then applied to the test transcripts ({maps}). The consultancy "
                "halves use consultancy's map. Log-loss in nats (chance: 0.693).</p>"
            ),
            _table(
                [
                    "protocol",
                    "accuracy, raw",
                    "accuracy, calibrated",
                    "mean p(correct), raw",
                    "mean p(correct), calibrated",
                    "log-loss, raw",
                    "log-loss, calibrated",
                ],
                rows,
            ),
            _table(["difference in mean p(correct)", "raw judge, points", "calibrated judge, points"], diffs),
        ]
    )


def proof_html(proof: dict) -> str:
    rows = [[p, fmt_estimate(proof[p])] for p in PROTOCOLS if p in proof]
    w, wo = proof.get("debate_accuracy_with_proof"), proof.get("debate_accuracy_without_proof")
    cond = (
        (
            "; debate accuracy "
            + ", ".join(f"{label} {100 * v:.1f}%" for label, v in (("with it", w), ("without it", wo)) if v is not None)
        )
        if (w, wo) != (None, None)
        else ""
    )
    return (
        "<h3>Whole proof shown</h3><p>Share of test transcripts in which every link of the true walk was "
        f"quoted and verified{cond}.</p>" + _table(["protocol", "whole proof shown [95% CI]"], rows)
    )


def ablation_html(abl: dict) -> str:
    rows = [
        [
            name,
            *(fmt_estimate(r[p]) for p in ("debate", "consultancy", "blind")),
            fmt_signed(r["debate_minus_consultancy"]),
        ]
        for name, r in abl.items()
    ]
    n = next(iter(abl.values()))["debate"]["n"]
    return (
        "<h3>Judge feature ablations</h3><p>The judge refit without the named feature(s) on the same "
        f"training transcripts; best-of-N debaters replayed against it on {n} test questions.</p>"
        + _table(["judge", "debate", "consultancy", "blind", "debate &minus; consultancy, points"], rows)
    )


def planning_html(plan: dict) -> str:
    rows = [
        [name.replace("_", " "), fmt_estimate(r["debate"]), fmt_estimate(r["proof_shown"])] for name, r in plan.items()
    ]
    return (
        "<h3>Debaters that plan one reply ahead</h3><p>A planning debater scores each candidate quote by "
        "the judge's verdict after the opponent's best reply (from candidates it draws for the opponent).</p>"
        + _table(["debaters", "judge accuracy, debate", "whole proof shown"], rows)
    )


def long_walk_html(lw: dict) -> str:
    rows = [[p, fmt_estimate(lw[p]), fmt_estimate(lw["mean_p_correct"][p])] for p in PROTOCOLS]
    return (
        f"<h3>Walks longer than a debater's quotes (exploratory)</h3><p>{lw['hops']}-link walks, "
        f"{lw['rounds']} quotes per debater; judge trained on such stories. Whole proof shown in "
        f"{100 * lw['proof_shown']['debate']['mean']:.1f}% of debates.</p>"
        + _table(["protocol", "judge accuracy", "mean p(correct)"], rows)
    )


def checks_html(facts: dict) -> list[str]:
    parts = []
    for key, render in (
        ("calibration", calibration_html),
        ("proof_shown", proof_html),
        ("ablation", ablation_html),
        ("planning", planning_html),
        ("long_walk", long_walk_html),
    ):
        if facts.get(key):
            parts.append(render(facts[key]))
    return parts
