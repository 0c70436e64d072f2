"""Research throughput: weak-to-strong method evaluations per core-hour, the automated researcher's
budget unit.

Why: an automated researcher proposes weak-to-strong methods and keeps what beats the baseline. What
it can try is bounded by how many evaluations (fine-tune a strong student on weak labels, predict the
test texts, score) one core-hour buys. Pretraining the weak and strong models and fitting the weak
supervisor are paid once per seed and shared by every method (keyed stages), so they are reported
apart.

It runs the weak-to-strong protocol at the demo's setting (``weak_to_strong:`` of the packaged demo
config: micro supervises tiny) on one seed, in a fresh run folder, with ``--threads`` torch threads
(default 1: a core), and reads each stage's wall time from the run's own ``events.jsonl``:

* one evaluation = a method stage (``w2s.<weak>-<strong>.<method>.<replicate>``) plus its share of
  the scoring stage (``w2s.score`` divided by the evaluations it scored);
* evaluations per core-hour = 3600 / (seconds per evaluation x threads);
* the once-per-seed cost: pretraining, the weak supervisor, the ceiling and any overseer supervisor.

Writes ``bench/results/research_throughput.json``. With ``--against REV`` it measures, side by side
in one session, a worktree of commit REV (run with its own source on ``PYTHONPATH``) and this checkout,
alternately for ``--rounds`` rounds, checks that both wrote the same metrics (a speed change must not
move what a seed computes), and writes each round and the ratio of the best times to
``bench/results/research_throughput_against_<REV>.json``.

    python bench/bench_research_throughput.py [--threads 1] [--methods ce confidence] [--seed 0]
    python bench/bench_research_throughput.py --against d8d5a68 [--rounds 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import yaml

from autoalign.preregistration import environment

REPO = Path(__file__).resolve().parents[1]
METHOD_STAGE = re.compile(r"^w2s\.[^.]+-[^.]+\.(?P<method>[^.]+)\.(?P<replicate>\d+)$")


def demo_section() -> dict:
    """The packaged demo config's ``weak_to_strong`` section (what ``autoalign demo`` runs)."""
    with resources.as_file(resources.files("autoalign") / "configs" / "demo.yaml") as path:
        return yaml.safe_load(path.read_text())["weak_to_strong"]


def stage_seconds(events_file: Path) -> dict[str, float]:
    """Wall seconds of every stage that ran (started and finished) in a run folder's event log."""
    started, seconds = {}, {}
    for line in events_file.read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "stage_started":
            started[e["stage"]] = e["time"]
        elif e["event"] == "stage_finished" and e["stage"] in started:
            seconds[e["stage"]] = e["time"] - started.pop(e["stage"])
    return seconds


def throughput(seconds: dict[str, float], threads: int) -> dict:
    """Seconds per method evaluation (with its share of scoring) and evaluations per core-hour."""
    evaluations = {s: t for s, t in seconds.items() if METHOD_STAGE.match(s)}
    if not evaluations:
        raise SystemExit("no method stage finished: nothing to measure")
    scoring = seconds.get("w2s.score", 0.0) / len(evaluations)
    per_eval = {s: t + scoring for s, t in evaluations.items()}
    mean_seconds = sum(per_eval.values()) / len(per_eval)
    by_method: dict[str, list[float]] = {}
    for s, t in per_eval.items():
        by_method.setdefault(METHOD_STAGE.match(s)["method"], []).append(t)
    once = {s: t for s, t in seconds.items() if s not in evaluations and s != "w2s.score"}
    return {
        "evaluations": len(per_eval),
        "seconds_per_evaluation": mean_seconds,
        "seconds_per_evaluation_by_method": {m: sum(v) / len(v) for m, v in by_method.items()},
        "evaluations_per_core_hour": 3600 / (mean_seconds * threads),
        "once_per_seed_seconds": sum(once.values()),
        "once_per_seed_stages": once,
        "scoring_share_seconds": scoring,
    }


def run_protocol(config: dict, source: Path, tmp: Path, name: str) -> tuple[dict, dict]:
    """Run the protocol from ``source`` (a checkout); its stages' wall seconds and its metrics."""
    cfg_file, run_dir = tmp / f"{name}.yaml", tmp / name
    cfg_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "autoalign", "run", str(cfg_file), "--run-dir", str(run_dir), "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(source / "src"))
    subprocess.run(cmd, check=True, cwd=source, env=env)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("provenance", None)  # commit, paths and environment: not what was computed
    return stage_seconds(run_dir / "events.jsonl"), metrics


def git(*args: str, cwd: Path = REPO) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:  # e.g. --against a commit this clone lacks: one line, not a traceback
        raise SystemExit(
            f"git {' '.join(args)}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}"
        )
    return done.stdout.strip()


def compare(config: dict, against: str, rounds: int, threads: int) -> dict:
    """``against`` and this checkout alternately; every round's figures and the ratio of the bests."""
    arms = {f"{against}": None, f"{git('rev-parse', '--short', 'HEAD')}{'' if clean() else '+changes'}": REPO}
    out: dict = {"rounds": [], "metrics_equal": True}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worktree = tmp / "against"
        git("worktree", "add", "--detach", str(worktree), against)
        try:
            arms[against] = worktree
            reference = None
            for r in range(rounds):
                row = {}
                for name, source in arms.items():
                    seconds, metrics = run_protocol(config, source, tmp, f"{name}-{r}")
                    row[name] = {k: v for k, v in throughput(seconds, threads).items() if k != "once_per_seed_stages"}
                    reference = reference if reference is not None else metrics
                    out["metrics_equal"] &= metrics == reference
                out["rounds"].append(row)
                print(r, {n: round(v["seconds_per_evaluation"], 2) for n, v in row.items()})
        finally:
            git("worktree", "remove", "--force", str(worktree))
    best = {n: min(row[n]["seconds_per_evaluation"] for row in out["rounds"]) for n in arms}
    old, new = (best[n] for n in arms)
    out["best_seconds_per_evaluation"] = best
    out["speedup"] = old / new
    return out


def clean() -> bool:
    return not git("status", "--porcelain", "--untracked-files=no")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", default=["ce", "confidence"])
    ap.add_argument("--against", help="a commit to measure side by side with this checkout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    section = dict(demo_section(), methods=args.methods, noise_seeds=0)
    config = {"name": "research-throughput", "protocol": "weak_to_strong", "seed": args.seed}
    config |= {"threads": args.threads, "weak_to_strong": section}
    stamp = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "machine": {
            "processor": platform.machine(),
            "threads": args.threads,
            "cpu": environment()["cpu"],
            "cpu_flags": environment()["cpu_flags"],
        },
        "setting": {"seed": args.seed, "weak_to_strong": section},
    }
    if args.against:
        result = stamp | compare(config, args.against, args.rounds, args.threads)
        out = args.out or REPO / "bench" / "results" / f"research_throughput_against_{args.against}.json"
        print(
            f"{args.against} / this checkout, best seconds per evaluation: {result['speedup']:.2f}x; "
            f"metrics equal: {result['metrics_equal']}"
        )
    else:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, _ = run_protocol(config, REPO, Path(tmp), "run")
        result = stamp | throughput(seconds, args.threads)
        out = args.out or REPO / "bench" / "results" / "research_throughput.json"
        print(
            f"{result['evaluations']} evaluations, {result['seconds_per_evaluation']:.1f} s each at {args.threads} "
            f"thread(s): {result['evaluations_per_core_hour']:.0f} per core-hour "
            f"(once per seed: {result['once_per_seed_seconds']:.0f} s)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
