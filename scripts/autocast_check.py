"""bf16 autocast against fp32, paired by seed: the comparison ``bench/autocast_check.yaml`` declares.

Reads two fan-out run folders of that config (or their shipped results), one run with ``autocast=off`` and
one with ``autocast=auto``, checks that each ran what it says (the resolved policy in the run's events where
the folder has them), and prints per seed and over seeds (mean, 95% t-interval) the bf16 - fp32 difference
of the two declared quantities, with the declared verdict: "does not move" if both intervals lie within
+-5 points, "moves" if either excludes 0, else "inconclusive".

    python scripts/autocast_check.py runs/ac-fp32 runs/ac-bf16
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy import stats

QUANTITIES = {
    "generator accuracy": ("generator", "accuracy"),
    "best-of-32 PRM - majority": ("best_of_n", "best_of_n", "arithmetic", "diff", "prm_vs_majority", "32"),
}
MARGIN = 0.05


def per_seed(folder: Path, names: list[str] | None = None) -> dict[int, dict]:
    """``{seed: {quantity: mean}}`` of a fan-out folder's finished seeds, for ``names`` (default: all)."""
    out = {}
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such run folder")
    for seed_dir in sorted(folder.glob("seed-*")):
        if not (seed_dir / "metrics.json").is_file():  # a seed still running, or stopped
            continue
        metrics = json.loads((seed_dir / "metrics.json").read_text())
        values = {}
        for name, path in QUANTITIES.items():
            if names is not None and name not in names:
                continue
            node = metrics
            for key in path:
                node = node[key]
            values[name] = node["mean"]
        out[int(seed_dir.name.split("-", 1)[1])] = values
    return out


def verdict(diffs: list[float]) -> tuple[float, float, float, str]:
    """Mean of paired differences, its 95% t-interval, and the declared rule's word: ``moves`` if the interval
    excludes 0, ``does not move`` if it lies within +-MARGIN, else ``inconclusive``."""
    mean = sum(diffs) / len(diffs)
    lo, hi = stats.t.interval(0.95, len(diffs) - 1, loc=mean, scale=stats.sem(diffs))
    word = "moves" if lo > 0 or hi < 0 else "does not move" if -MARGIN <= lo and hi <= MARGIN else "inconclusive"
    return mean, lo, hi, word


def policy(folder: Path) -> str | None:
    """The resolved autocast a run trained with: from its events, or (shipped) its seeds' provenance."""
    for events in sorted(folder.glob("seed-*/events.jsonl")):
        for line in events.read_text().splitlines():
            e = json.loads(line)
            if e.get("event") == "run_started":
                return e.get("autocast")
    recorded = {
        json.loads(m.read_text()).get("provenance", {}).get("autocast")
        for m in sorted(folder.glob("seed-*/metrics.json"))
    }
    return recorded.pop() if len(recorded) == 1 else None


def main(fp32_dir: str, bf16_dir: str) -> None:
    fp32, bf16 = Path(fp32_dir), Path(bf16_dir)
    print(f"resolved autocast: fp32 run {policy(fp32)}, bf16 run {policy(bf16)} (None: no events kept)")
    a, b = per_seed(fp32), per_seed(bf16)
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        raise SystemExit(f"{fp32_dir}, {bf16_dir}: need two or more seeds run in both, found {seeds}")
    verdicts = []
    for name in QUANTITIES:
        mean, lo, hi, word = verdict([b[s][name] - a[s][name] for s in seeds])
        rows = ", ".join(f"{s}: {100 * a[s][name]:.1f} -> {100 * b[s][name]:.1f}" for s in seeds)
        print(f"{name} (fp32 -> bf16 by seed): {rows}")
        print(
            f"  bf16 - fp32: {100 * mean:+.1f} points [95% CI {100 * lo:+.1f}, {100 * hi:+.1f}] over {len(seeds)} seeds"
        )
        verdicts.append(word)
    overall = (
        "moves" if "moves" in verdicts else "does not move" if set(verdicts) == {"does not move"} else "inconclusive"
    )
    print(f"verdict (declared in bench/autocast_check.yaml, margin +-{100 * MARGIN:.0f} points): {overall}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    main(sys.argv[1], sys.argv[2])
