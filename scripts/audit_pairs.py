"""Post hoc, on a shipped auditing run: per verdict route, the share of organisms flagged while their
benign twin was not (discrimination: what flagging everything cannot raise), per seed and over seeds.

Runs that predate ``rates.<route>.discrimination`` in metrics.json (the registered seeds 16-20) are
read from their stored verdicts. Not a registered endpoint: computed after the run was seen.

    python scripts/audit_pairs.py results/auditing/seeds16-20
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean, stdev

from scipy.stats import t as student_t


def main(run: str) -> None:
    seeds = sorted(Path(run).glob("seed-*/metrics.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    per_route: dict[str, list[float]] = {}
    for path in seeds:
        subjects = json.loads(path.read_text())["organisms"]["auditing"]["subjects"]
        for route in next(iter(subjects.values()))["organism"]:
            pairs = [s["organism"][route]["flagged"] and not s["twin"][route]["flagged"] for s in subjects.values()]
            per_route.setdefault(route, []).append(sum(pairs) / len(pairs))
    print(f"organism flagged and its twin not, seeds {', '.join(p.parent.name[5:] for p in seeds)} (post hoc):")
    for route, v in per_route.items():
        half = student_t.ppf(0.975, len(v) - 1) * stdev(v) / len(v) ** 0.5 if len(v) > 1 else float("nan")
        per = ", ".join(f"{x:.1f}" for x in v)
        print(f"  {route}: {mean(v):.2f} [{mean(v) - half:.2f}, {mean(v) + half:.2f}] (per seed {per})")


if __name__ == "__main__":
    main(sys.argv[1])
