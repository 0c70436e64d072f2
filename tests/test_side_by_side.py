"""Two stages of one run side by side (PRM and ORM training in two processes); SIGKILL the run
while they are in flight; resume; the metrics equal those of an uninterrupted run.

The uninterrupted reference runs in the test's own process (``execute``, as ``autoalign run`` does;
its stages still go to spawned workers): one interpreter start fewer than a third CLI run, and the
killed and resumed runs stay real ``autoalign run`` processes."""

import json
import os
import signal
import subprocess
import sys
import time

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run
from autoalign.runtime.context import shutdown_pools

# The stages' machinery, not the science: the smallest best-of-N run whose PRM and ORM train side by
# side (two threads: two workers of one each).
TINY_BEST_OF_N = [
    "threads=2",
    "generator.size=tiny",
    "generator.train_steps=60",
    "generator.eval_every=60",
    "generator.eval_problems=16",
    "generator.lr=0.005",
    "generator.target_accuracy=null",
    "world.min_steps=1",
    "world.max_steps=2",
    "best_of_n.worlds=[arithmetic]",
    "best_of_n.train_problems=48",
    "best_of_n.train_samples_per_problem=4",
    "best_of_n.test_problems=16",
    "best_of_n.pool_size=4",
    "best_of_n.n_values=[1,2,4]",
    "best_of_n.subsets=20",
    "best_of_n.verifier.steps=40",
    "best_of_n.verifier.batch_size=32",
    "best_of_n.verifier.weak_baseline=false",
    "best_of_n.verifier.ablation=false",
    "best_of_n.active_learning.enabled=false",
    "bootstrap_resamples=100",
]


def _cmd(*args):
    return [sys.executable, "-m", "autoalign", *args]


def _sets():
    return [x for kv in TINY_BEST_OF_N for x in ("--set", kv)]


def _in_flight(run_dir):
    path = run_dir / "events.jsonl"
    if not path.exists():
        return set()
    started, finished = set(), set()
    for line in path.read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "stage_started":
            started.add(e["stage"])
        elif e["event"] == "stage_finished":
            finished.add(e["stage"])
    return started - finished


def test_side_by_side_stages_survive_sigkill(tmp_path):
    ref = tmp_path / "ref"
    cfg = load_config("configs/best_of_n.yaml", TINY_BEST_OF_N)
    store, _ = open_run(cfg, ref, config_file="configs/best_of_n.yaml")
    try:
        execute(store, cfg)
    finally:
        shutdown_pools()  # the reference's stage workers, not kept for the rest of the session
    reference = json.loads((ref / "metrics.json").read_text())
    both = {"arithmetic.train_prm", "arithmetic.train_orm"}
    events = [json.loads(x) for x in (ref / "events.jsonl").read_text().splitlines()]
    starts = {e["stage"]: e["time"] for e in events if e["event"] == "stage_started"}
    ends = {e["stage"]: e["time"] for e in events if e["event"] == "stage_finished"}
    assert max(starts[s] for s in both) < min(ends[s] for s in both), "PRM and ORM did not overlap"

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd("run", "configs/best_of_n.yaml", "--run-dir", str(killed), "--quiet", *_sets()), start_new_session=True
    )
    deadline = time.time() + 600
    while not both <= _in_flight(killed) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    time.sleep(0.5)  # let the two trainings get under way
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its stage workers
    proc.wait()
    assert both <= _in_flight(killed), "PRM or ORM finished before the kill: it did not interrupt them"
    assert not (killed / "metrics.json").exists()

    r = subprocess.run(_cmd("run", "--resume", str(killed), "--quiet"), timeout=900)
    assert r.returncode == 0
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed == reference
    skipped = [json.loads(x) for x in (killed / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "stage_skipped" and e["stage"] == "train_generator" for e in skipped)
