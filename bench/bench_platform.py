"""End-to-end wall time of the platform against an old commit, measured side by side.

Why: the platform rewrite must not cost speed. The issue's bar is that ``autoalign demo`` and
``autoalign run configs/best_of_n.yaml`` each take at most half the wall time they took at
106e880 (target ratio new/old <= 0.5). This machine is noisy, so absolute seconds from
different sessions mean little; only ratios measured side by side in one session count.

The old commit is checked out with ``git worktree add --detach`` into a temp dir and run with
this venv's python and ``PYTHONPATH=<old>/src``; the new code is HEAD, checked out the same way (uncommitted
edits are not measured, and editing the tree during a run changes nothing). Runs alternate old, new, old, new ...
for ``--repeats`` rounds, each in a fresh empty ``--run-dir`` with ``--quiet``. Writes
``bench/results/platform.json``: seconds per run, best-of ratio (min new / min old) and mean
ratio (mean of the per-round new/old ratios).

    python bench/bench_platform.py [--old 106e880] [--only demo|best_of_n|both] [--repeats 3]
    python bench/bench_platform.py --only best_of_n --set KEY=VALUE ...   # quick smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
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


def workload_command(workload: str, tree: Path, run_dir: Path, overrides: list[str]) -> list[str]:
    if workload == "demo":
        return [PYTHON, "-m", "autoalign", "demo", "--run-dir", str(run_dir), "--quiet"]
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


def timed_run(cmd: list[str], tree: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env_for(tree), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"FAILED (exit {proc.returncode}): {shlex.join(cmd)}\n--- stderr tail ---", file=sys.stderr)
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(1)
    return seconds


def summarize(times: dict[str, list[float]]) -> dict:
    old, new = times["old"], times["new"]
    if not old or not new:
        return {"old_s": old, "new_s": new}
    pairs = [n / o for o, n in zip(old, new)]
    return {
        "old_s": old,
        "new_s": new,
        "round_ratios": pairs,
        "best_ratio": min(new) / min(old),
        "mean_ratio": mean(pairs),
    }


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default="106e880", help="old commit to compare against (default 106e880)")
    ap.add_argument("--only", choices=["demo", "best_of_n", "both"], default="both")
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
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "platform.json")
    ap.add_argument("--keep", type=Path, default=None, help="move the run folders here instead of deleting them")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    workloads = ["demo", "best_of_n"] if args.only == "both" else [args.only]
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

    times = {w: {"old": [], "new": []} for w in workloads}
    payload = {
        "target": 0.5,
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
                    cmd = workload_command(w, tree, tmp / f"{w}-{side}-{r}", args.overrides)
                    times[w][side].append(timed_run(cmd, tree))
                    print(f"round {r + 1}/{args.repeats} {w:9s} {side}: {times[w][side][-1]:8.1f} s", flush=True)
            payload["rounds_done"] = r + 1
            payload["workloads"] = {w: summarize(t) for w, t in times.items()}
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

    print(f"\n{'workload':10s} {'old min s':>10s} {'new min s':>10s} {'best':>6s} {'mean':>6s}  target <= 0.5")
    for w, s in payload["workloads"].items():
        print(
            f"{w:10s} {min(s['old_s']):10.1f} {min(s['new_s']):10.1f} "
            f"{s['best_ratio']:6.3f} {s['mean_ratio']:6.3f}  {'ok' if s['best_ratio'] <= 0.5 else 'MISS'}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
