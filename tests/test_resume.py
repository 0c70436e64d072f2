"""A run killed with SIGKILL in the middle of training resumes and reaches the same metrics."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import TINY_RUN

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run
from autoalign.runtime.context import shutdown_pools

CONFIG = "configs/generator.yaml"


def overrides():
    return [x for kv in TINY_RUN for x in ("--set", kv)]


def cli(*args):
    return [sys.executable, "-m", "autoalign", *args]


def test_kill_mid_training_then_resume_matches_uninterrupted_run(tmp_path):
    # the uninterrupted reference runs in this process (``execute``, as ``autoalign run`` does: one
    # interpreter start fewer); the killed and resumed runs stay real ``autoalign run`` processes
    ref = tmp_path / "ref"
    cfg = load_config(CONFIG, TINY_RUN)
    store, _ = open_run(cfg, ref, config_file=CONFIG)
    try:
        execute(store, cfg)
    finally:
        shutdown_pools()  # any stage workers it started, not kept for the rest of the session
    reference = json.loads((ref / "metrics.json").read_text())

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cli("run", CONFIG, "--run-dir", str(killed), "--quiet", *overrides()))
    deadline = time.time() + 300
    while not list((killed / "models").glob("generator_*.ckpt.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    assert not list((killed / "stages").glob("train_generator.*.json"))

    r = subprocess.run(cli("run", "--resume", str(killed), "--quiet"), timeout=600)
    assert r.returncode == 0
    events = (killed / "events.jsonl").read_text()
    assert "resumed_from_checkpoint" in events
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed["generator"] == reference["generator"]
    assert (killed / "report.html").exists() and list(
        (killed / "models").glob("generator_arithmetic-*/model.safetensors")
    )

    # resuming a finished run redoes nothing and changes nothing
    r = subprocess.run(cli("run", "--resume", str(killed), "--quiet"), timeout=600)
    assert r.returncode == 0
    assert json.loads((killed / "metrics.json").read_text()) == resumed
