"""End-to-end wall time of the platform against an old commit, measured side by side, and where it goes.

Why: speed is judged against a fixed commit. The platform issue's bar was that ``autoalign demo`` and
``autoalign run configs/best_of_n.yaml`` each take at most half the wall time they took at 106e880
(``--target 0.5``); the speed issue (#24) asks ``autoalign demo`` and ``autoalign demo --quick`` for at
most 0.35x of a9b5fcc (``--old a9b5fcc --only demo,demo-quick --target 0.35``). This machine is noisy,
so absolute seconds from different sessions mean little; only ratios measured side by side in one
session count.

Each run also records its CPU seconds and peak memory (the child's own rusage) and a profile read from
the run's ``events.jsonl``: wall seconds per stage, summed over stages of the same name with numbers
dropped (``gdc.tiny.evaluate`` and ``gdc.micro.evaluate`` stay apart; seeds and levels merge), largest
first, and the seconds outside any stage (imports, reports, the demo's research section). Stages that
run side by side overlap, so their seconds can sum past the wall time. Within a stage, where a training
step and a decoding step spend their time is ``bench_generator.py``'s and ``bench_sampling.py``'s job.

The old commit is checked out with ``git worktree add --detach`` into a temp dir and run with
this venv's python and ``PYTHONPATH=<old>/src``; the new code is HEAD, checked out the same way (uncommitted
edits are not measured, and editing the tree during a run changes nothing). Runs alternate old, new, old, new ...
for ``--repeats`` rounds, each in a fresh empty ``--run-dir`` with ``--quiet``. Writes
``bench/results/platform.json``: seconds per run, best-of ratio (min new / min old) and mean
ratio (mean of the per-round new/old ratios).

    python bench/bench_platform.py [--old 106e880] [--only demo|demo-quick|best_of_n|both|all|A,B] [--repeats 3]
    python bench/bench_platform.py --old a9b5fcc --only demo,demo-quick --target 0.35 --out bench/results/speed.json
    python bench/bench_platform.py --only best_of_n --set KEY=VALUE ...   # quick smoke test
    python bench/bench_platform.py --experiments bench/results/speed_events/*.jsonl   # per-experiment seconds
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


WORKLOADS = ("demo", "demo-quick", "best_of_n")
GROUPS = {"both": ["demo", "best_of_n"], "all": list(WORKLOADS)}


def workloads_from(spec: str) -> list[str]:
    """``--only``'s value: a workload, a group (both, all) or a comma-separated list of workloads."""
    if spec in GROUPS:
        return GROUPS[spec]
    names = [w.strip() for w in spec.split(",") if w.strip()]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown or not names:
        raise SystemExit(
            f"--only: unknown workload {', '.join(unknown) or spec!r} (known: {', '.join(WORKLOADS)}, both, all)"
        )
    return names


def workload_command(workload: str, tree: Path, run_dir: Path, overrides: list[str]) -> list[str]:
    if workload in ("demo", "demo-quick"):
        quick = ["--quick"] if workload == "demo-quick" else []
        return [PYTHON, "-m", "autoalign", "demo", *quick, "--run-dir", str(run_dir), "--quiet"]
    sets = [arg for kv in overrides for arg in ("--set", kv)]
    config = tree / "configs" / "best_of_n.yaml"
    return [PYTHON, "-m", "autoalign", "run", str(config), *sets, "--run-dir", str(run_dir), "--quiet"]


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "src")}


def check_import(tree: Path) -> None:
    out = subprocess.run(
        [PYTHON, "-c", "import autoalign;print(autoalign.__file__)"],
        cwd=REPO,
        env=env_for(tree),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(out).resolve().is_relative_to((tree / "src").resolve()), f"{tree}: imports {out}"


def timed_run(cmd: list[str], tree: Path) -> dict:
    """Run ``cmd``; its wall seconds, and from the child's own rusage its CPU seconds and peak RSS."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env_for(tree), stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            print(f"FAILED (exit {proc.returncode}): {shlex.join(cmd)}\n--- stderr tail ---", file=sys.stderr)
            print(err.read()[-4000:].decode(errors="replace"), file=sys.stderr)
            raise SystemExit(1)
    return {
        "wall_s": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux; the largest of the process and its waited children
    }


def stage_profile(run_dir: Path, wall_s: float, top: int = 15) -> dict:
    """Seconds per stage from the run's ``events.jsonl`` (stage_finished events), summed per name with
    numbers dropped, largest first (``top`` kept, the rest summed), and the wall seconds outside stages."""
    events = run_dir / "events.jsonl"
    if not events.is_file():
        return {"note": f"no events.jsonl in {run_dir.name}"}
    spans, totals = [], {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") != "stage_finished":
            continue
        end, seconds = float(event["time"]), float(event["seconds"])
        spans.append((end - seconds, end))
        name = re.sub(r"\d+(?=\.|$)", "N", event["stage"])  # seed1.fit -> seedN.fit; w2s stays
        totals[name] = totals.get(name, 0.0) + seconds
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    covered, last = 0.0, float("-inf")  # union of the stage spans: side-by-side stages counted once
    for start, end in sorted(spans):
        if end > last:
            covered += end - max(start, last)
            last = end
    return {
        "stages": {name: round(sec, 1) for name, sec in ranked[:top]},
        "other_stages_s": round(sum(sec for _, sec in ranked[top:]), 1),
        "stage_count": len(spans),
        "in_stages_s": round(covered, 1),
        "outside_stages_s": round(max(wall_s - covered, 0.0), 1),
    }


def experiment(stage: str) -> str:
    """The experiment a stage belongs to: its name's first part (the generator's and best-of-N's stages
    carry no protocol prefix)."""
    if stage == "train_generator":
        return "generator"
    head = stage.split(".")[0]
    return "best_of_n" if head in ("arithmetic", "countdown") else head


def experiment_totals(events: Path) -> dict[str, float]:
    """Stage seconds summed per experiment from one run's ``events.jsonl`` (side-by-side stages each count)."""
    totals: dict[str, float] = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "stage_finished":
            key = experiment(event["stage"])
            totals[key] = round(totals.get(key, 0.0) + float(event["seconds"]), 1)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def summarize(runs: dict[str, list[dict]]) -> dict:
    old, new = [r["wall_s"] for r in runs["old"]], [r["wall_s"] for r in runs["new"]]
    out = {"old_s": old, "new_s": new, "old_runs": runs["old"], "new_runs": runs["new"]}
    if old and new:
        pairs = [n / o for o, n in zip(old, new)]
        out.update(round_ratios=pairs, best_ratio=min(new) / min(old), mean_ratio=mean(pairs))
    return out


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="106e880", help="old commit to compare against (default 106e880)")
    ap.add_argument(
        "--only", default="both", help="demo, demo-quick, best_of_n, both (demo and best_of_n), all, or A,B"
    )
    ap.add_argument("--target", type=float, default=0.5, help="the bar for new/old (default 0.5; #24: 0.35)")
    ap.add_argument("--repeats", type=int, default=1, help="rounds of old/new pairs (default 1)")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed as --set to both old and new `run` (not the demo); repeatable",
    )
    ap.add_argument("--dry-run", action="store_true", help="print the commands; create nothing")
    ap.add_argument(
        "--experiments",
        nargs="+",
        type=Path,
        metavar="EVENTS",
        help="print stage seconds per experiment for these events.jsonl files and exit (no runs)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "platform.json")
    ap.add_argument("--keep", type=Path, default=None, help="move the run folders here instead of deleting them")
    args = ap.parse_args()
    if args.experiments:
        missing = [str(e) for e in args.experiments if not e.is_file()]
        if missing:
            ap.error(f"--experiments: no such events file: {', '.join(missing)}")
        for events in args.experiments:
            print(f"{events}: {json.dumps(experiment_totals(events))}")
        return
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    workloads = workloads_from(args.only)
    old_hash = git("rev-parse", "--verify", f"{args.old}^{{commit}}")
    new_hash = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain"))
    tmp = Path("$TMP") if args.dry_run else Path(tempfile.mkdtemp(prefix="bench_platform_"))
    trees = {"old": tmp / "old", "new": tmp / "new"}  # both committed snapshots: edits during a run change nothing
    add_worktree = ["git", "worktree", "add", "--detach", str(trees["old"]), old_hash]
    add_new = ["git", "worktree", "add", "--detach", str(trees["new"]), new_hash]
    remove_worktree = ["git", "worktree", "remove", "--force", str(trees["old"])]
    remove_new = ["git", "worktree", "remove", "--force", str(trees["new"])]

    if args.dry_run:
        print(f"# old {old_hash}, new {new_hash}{' (dirty)' if dirty else ''}, tmp dir {tmp}")
        print(shlex.join(add_worktree))
        for r in range(args.repeats):
            for w in workloads:
                for side, tree in trees.items():
                    cmd = workload_command(w, tree, tmp / f"{w}-{side}-{r}", args.overrides)
                    print(f"PYTHONPATH={tree / 'src'} {shlex.join(cmd)}")
        print(shlex.join(remove_worktree))
        print(f"# writes {args.out}")
        return

    runs = {w: {"old": [], "new": []} for w in workloads}
    payload = {
        "target": args.target,
        "old_commit": old_hash,
        "new_commit": new_hash,
        "new_dirty": dirty,
        "machine": {
            "nproc": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "repeats": args.repeats,
        "set": args.overrides,
    }
    try:
        subprocess.run(add_worktree, cwd=REPO, check=True, capture_output=True)
        subprocess.run(add_new, cwd=REPO, check=True, capture_output=True)
        for tree in trees.values():
            check_import(tree)
        for r in range(args.repeats):
            for w in workloads:
                for side, tree in trees.items():
                    run_dir = tmp / f"{w}-{side}-{r}"
                    result = timed_run(workload_command(w, tree, run_dir, args.overrides), tree)
                    result["profile"] = stage_profile(run_dir, result["wall_s"])
                    runs[w][side].append(result)
                    print(
                        f"round {r + 1}/{args.repeats} {w:10s} {side}: {result['wall_s']:8.1f} s wall, "
                        f"{result['cpu_s']:8.1f} s CPU, {result['peak_rss_mb']:6.0f} MB",
                        flush=True,
                    )
            payload["rounds_done"] = r + 1
            payload["workloads"] = {w: summarize(t) for w, t in runs.items()}
            write_json(args.out, payload)
    finally:
        subprocess.run(remove_worktree, cwd=REPO, capture_output=True)
        subprocess.run(remove_new, cwd=REPO, capture_output=True)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for run in tmp.iterdir():
                if run.name not in ("old", "new"):
                    shutil.move(str(run), str(args.keep / run.name))
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\n{'workload':10s} {'old min s':>10s} {'new min s':>10s} {'best':>6s} {'mean':>6s}  target <= {args.target}"
    )
    for w, s in payload["workloads"].items():
        print(
            f"{w:10s} {min(s['old_s']):10.1f} {min(s['new_s']):10.1f} "
            f"{s['best_ratio']:6.3f} {s['mean_ratio']:6.3f}  {'ok' if s['best_ratio'] <= args.target else 'MISS'}"
        )
        for side in ("old", "new"):
            profile = s[f"{side}_runs"][0]["profile"]
            top = ", ".join(f"{k} {v:.0f}" for k, v in list(profile.get("stages", {}).items())[:6])
            print(f"  {side}: {profile.get('outside_stages_s', 0):.0f} s outside stages; largest stages (s): {top}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
