"""What ``compile: on`` buys a real training stage, its compilation included: the demo's generator trained a
fixed 1,000 steps (``bench/fixed_steps_check.yaml``, one seed), eager and compiled, each run a fresh
``autoalign run`` process.

Why: the per-step ratio ``bench_training_options.py`` measures leaves out what a run pays to compile
(once per process and model, less with inductor's on-disk cache), and issue #24 asks for training
throughput with compile time amortized. So this times the whole ``train_generator`` stage (1,000 steps
and the ten greedy validations between them, which stay eager) from the run's own events, in the order
eager, compiled with an empty cache (``cold``), compiled with the cache the cold run left (``warm``),
eager, compiled warm again: eager and warm twice each, to show the noise, and the two warm runs'
accuracies equal, to show that a compiled seed reproduces. Writes ``bench/results/compile_run.json``.

    python bench/bench_compile_run.py [--seed 31] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoalign.preregistration import environment

REPO = Path(__file__).resolve().parents[1]
ORDER = [
    ("eager", "off"),
    ("compiled cold cache", "on"),
    ("compiled warm cache", "on"),
    ("eager", "off"),
    ("compiled warm cache", "on"),
]


def run(compile: str, seed: int, threads: int, run_dir: Path, cache: Path) -> dict:
    cmd = [sys.executable, "-m", "autoalign", "run", str(REPO / "bench" / "fixed_steps_check.yaml")]
    cmd += ["--set", f"compile={compile}", "--set", f"seeds=[{seed}]", "--set", f"threads={threads}"]
    cmd += ["--run-dir", str(run_dir)]
    t0 = time.perf_counter()
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    events = [json.loads(line) for line in (run_dir / f"seed-{seed}" / "events.jsonl").read_text().splitlines()]
    stage = next(e["seconds"] for e in events if e.get("event") == "stage_finished" and e["stage"] == "train_generator")
    accuracy = json.loads((run_dir / "metrics.json").read_text())["generator"]["accuracy"]["mean"]
    return {"compile": compile, "train_generator_s": stage, "run_wall_s": round(wall, 1), "accuracy": accuracy}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "compile_run.json"))
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "inductor"
        for i, (name, compile) in enumerate(ORDER):
            runs.append({"variant": name, **run(compile, args.seed, args.threads, Path(tmp) / f"run{i}", cache)})
            print(json.dumps(runs[-1]), flush=True)
    by = {name: [r["train_generator_s"] for r in runs if r["variant"] == name] for name, _ in ORDER}
    eager = min(by["eager"])
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "setting": {"config": "bench/fixed_steps_check.yaml", "seed": args.seed, "threads": args.threads},
        "runs": runs,
        "speedup_over_eager": {name: eager / min(s) for name, s in by.items() if name != "eager"},
        "compiled_reproduces": len({r["accuracy"] for r in runs if r["variant"] == "compiled warm cache"}) == 1,
        "note": "train_generator stage seconds from each run's events (best of the repeats); compile time included",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup_over_eager", "compiled_reproduces")}, indent=2))


if __name__ == "__main__":
    main()
