"""A run killed with SIGKILL in the middle of training resumes and reaches the same metrics."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import TINY_RUN

CONFIG = "configs/generator.yaml"


def overrides():
    return [x for kv in TINY_RUN for x in ("--set", kv)]


def cli(*args):
    return [sys.executable, "-m", "autoalign", *args]


def test_kill_mid_training_then_resume_matches_uninterrupted_run(tmp_path):
    ref = tmp_path / "ref"
    r = subprocess.run(cli("run", CONFIG, "--run-dir", str(ref), "--quiet", *overrides()), timeout=600)
    assert r.returncode == 0
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
