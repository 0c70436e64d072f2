"""Does ``compile: on`` move what the demo's generator learns? The comparison ``bench/compile_check.yaml``
declares, paired by seed (d = compiled - eager):

1. generator accuracy, by the bf16 check's rule ("does not move" if the 95% t-interval of mean d lies within
   +-5 points, "moves" if it excludes 0, else inconclusive);
2. (secondary, descriptive) the ``train_generator`` stage's seconds, compiled / eager per seed, from each seed's
   events.

It adds one line the config did not declare: each seed's greedy validation accuracy (128 problems) at its last
check, from the events, which shows whether a seed's training had reached its plateau by the end of the schedule.

Void unless the arms ran as declared (each seed's recorded provenance): ``bench/compile_check.yaml`` in fp32, the
eager arm ``compile: off`` and the compiled arm ``on``, seeds 36-40, one clean commit and one environment, and no
setting changed between one arm's seeds.

    python scripts/compile_check.py runs/cc-eager runs/cc-compiled
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autocast_check import per_seed, verdict  # noqa: E402

NAME = "generator accuracy"
SEEDS = [36, 37, 38, 39, 40]
STAGE = "train_generator"
CONFIG = "bench/compile_check.yaml"


def void(reason: str) -> SystemExit:
    return SystemExit(f"void, as bench/compile_check.yaml declares: {reason}")


def seed_provenance(folder: Path) -> dict[int, dict]:
    """Each finished seed's recorded provenance (commit, clean tree, compile)."""
    out = {}
    for metrics in sorted(folder.glob("seed-*/metrics.json")):
        out[int(metrics.parent.name.split("-", 1)[1])] = json.loads(metrics.read_text()).get("provenance", {})
    return out


def check_arms(eager: Path, compiled: Path) -> None:
    """The declared design: this config, fp32, compile off and on, seeds 36-40, one clean commit, one environment,
    and within each arm one science digest (the arms' differ, since ``compile: on`` enters it)."""
    commits, environments = set(), set()
    for folder, want in ((eager, "off"), (compiled, "on")):
        prov = seed_provenance(folder)
        if sorted(prov) != SEEDS:
            raise void(f"{folder}: finished seeds {sorted(prov)}, declared {SEEDS}")
        for seed, p in prov.items():
            where = f"{folder}/seed-{seed}"
            if p.get("compile") != want:
                raise void(f"{where}: compile {p.get('compile')!r}, this arm declares {want!r}")
            if p.get("config_file") != CONFIG or p.get("autocast") != "off":
                raise void(
                    f"{where}: ran {p.get('config_file')} with autocast {p.get('autocast')!r}, declared {CONFIG}, off"
                )
            if not (p.get("clean") and p.get("finished_clean")):
                raise void(f"{where}: ran with uncommitted changes")
            commits |= {p.get("commit"), p.get("finished_commit")}
            environments.add(json.dumps(p.get("environment"), sort_keys=True))
        if len({p.get("science_digest") for p in prov.values()}) != 1:
            raise void(f"{folder}: its seeds ran different science (settings changed between them)")
    if len(commits) != 1:
        raise void(f"the two arms must run one commit; they ran {sorted(commits, key=str)}")
    if len(environments) != 1:
        raise void("the seeds ran under different environments (packages, CPU or Python)")
    print(f"arms as declared: compile off and on, seeds {SEEDS[0]}-{SEEDS[-1]}, one clean commit {commits.pop()[:7]}")


def seed_events(folder: Path) -> dict[int, list[dict]]:
    return {
        int(events.parent.name.split("-", 1)[1]): [json.loads(line) for line in events.read_text().splitlines()]
        for events in sorted(folder.glob("seed-*/events.jsonl"))
    }


def stage_seconds(folder: Path) -> dict[int, float]:
    """Seconds of each seed's generator training, from its events."""
    return {
        seed: e["seconds"]
        for seed, events in seed_events(folder).items()
        for e in events
        if e.get("event") == "stage_finished" and e.get("stage") == STAGE
    }


def last_validation(folder: Path) -> dict[int, tuple[int, float]]:
    """Each seed's last greedy validation check: (step, accuracy)."""
    out = {}
    for seed, events in seed_events(folder).items():
        checks = [(e["step"], e["accuracy"]) for e in events if e.get("event") == "validation"]
        if checks:
            out[seed] = checks[-1]
    return out


def main(eager_dir: str, compiled_dir: str) -> None:
    eager, compiled = Path(eager_dir), Path(compiled_dir)
    check_arms(eager, compiled)
    a, b = per_seed(eager, [NAME]), per_seed(compiled, [NAME])
    for s in SEEDS:
        print(f"  seed {s}: eager {100 * a[s][NAME]:.1f}, compiled {100 * b[s][NAME]:.1f}")
    mean, lo, hi, word = verdict([b[s][NAME] - a[s][NAME] for s in SEEDS])
    print(f"1. compiled - eager, {NAME}: {100 * mean:+.1f} points [95% CI {100 * lo:+.1f}, {100 * hi:+.1f}]: {word}")
    ta, tb = stage_seconds(eager), stage_seconds(compiled)
    if sorted(ta) == SEEDS and sorted(tb) == SEEDS:
        ratios = ", ".join(f"{s}: {ta[s]:.1f} / {tb[s]:.1f} s" for s in SEEDS)
        speedup = statistics.mean(ta.values()) / statistics.mean(tb.values())
        print(f"2. {STAGE} eager / compiled by seed (descriptive): {ratios}; mean {speedup:.2f}x for compiled")
    else:
        print(f"2. {STAGE} seconds: not every seed's events kept (eager {sorted(ta)}, compiled {sorted(tb)})")
    va, vb = last_validation(eager), last_validation(compiled)
    rows = ", ".join(
        f"{s}: {100 * va[s][1]:.1f} / {100 * vb[s][1]:.1f}%"
        if s in va and s in vb and va[s][0] == vb[s][0]
        else f"{s}: not comparable (other last steps or none)"
        for s in SEEDS
    )
    step = next(iter(va.values()))[0] if va else None
    print(f"   not declared: greedy validation at step {step}, eager / compiled by seed: {rows}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    main(sys.argv[1], sys.argv[2])
