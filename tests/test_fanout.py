"""Fan-out over seeds: pooled estimates (hierarchical bootstrap), and the process and Ray executors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from autoalign.measures import bootstrap_ci, hierarchical_bootstrap
from autoalign.orchestration.fanout import pool_metrics, thread_plan

# The fan-out's machinery, not the science: the smallest run that still trains a judge per seed
# (the optional ablation, planning and long-walk stages off).
FACTS = [
    "debate_facts.judge_train_questions=300",
    "debate_facts.test_questions=40",
    "debate_facts.calibration_questions=20",
    "debate_facts.ablation_questions=0",
    "debate_facts.planning_questions=0",
    "debate_facts.long_walk_hops=0",
    "debate_facts.tournament_strengths=[]",
    "bootstrap_resamples=200",
]

ENDPOINT = (
    "endpoints=[{name: debate_beats_chance, metric: debate_facts.facts.debate, direction: greater, threshold: 0.5}]"
)


def test_hierarchical_ci_covers_training_noise_and_only_then_widens():
    rng = np.random.default_rng(0)
    # five seeds whose true accuracies differ (training noise), 200 problems each
    noisy = [(rng.random(200) < p).astype(float) for p in (0.55, 0.65, 0.75, 0.6, 0.7)]
    same = [(rng.random(200) < 0.65).astype(float) for _ in range(5)]
    h_noisy = hierarchical_bootstrap(noisy, n_resamples=1000)
    h_same = hierarchical_bootstrap(same, n_resamples=1000)
    flat = bootstrap_ci(np.concatenate(noisy), n_resamples=1000)
    width = lambda e: e["ci_high"] - e["ci_low"]  # noqa: E731
    assert width(h_noisy) > 1.5 * width(flat) and width(h_noisy) > 1.4 * width(h_same)  # disagreeing seeds widen it
    # seeds that agree: resampling both levels counts the problems' noise more than once, so the CI is
    # wider than one pool of every problem, but boundedly so (conservative, never narrower)
    pooled_same = width(bootstrap_ci(np.concatenate(same), n_resamples=1000))
    assert pooled_same <= width(h_same) < 1.9 * pooled_same
    assert h_noisy["resampled"] == "seeds>problems" and h_noisy["n"] == 5


def test_seeds_sharing_their_test_items_do_not_shrink_the_ci():
    """Five seeds judged on the same 400 items (little training noise): the items' noise is shared,
    so the pooled CI must stay about as wide as one seed's, not shrink by sqrt(5)."""
    rng = np.random.default_rng(1)
    items = (rng.random(400) < 0.6).astype(float)
    seeds = [np.where(rng.random(400) < 0.05, 1 - items, items) for _ in range(5)]
    h = hierarchical_bootstrap(seeds, n_resamples=1000)
    one = bootstrap_ci(seeds[0], n_resamples=1000)
    assert (h["ci_high"] - h["ci_low"]) > 0.8 * (one["ci_high"] - one["ci_low"])


def test_pool_metrics_keeps_per_seed_values_and_falls_back_to_seeds():
    a = {
        "p": {
            "acc": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 2},
            "auroc": {"mean": 0.7, "ci_low": 0.6, "ci_high": 0.8, "n": 2},
            "rate": 0.2,
            "label": "x",
        }
    }
    b = {
        "p": {
            "acc": {"mean": 1.0, "ci_low": 0.9, "ci_high": 1.0, "n": 2},
            "auroc": {"mean": 0.9, "ci_low": 0.8, "ci_high": 1.0, "n": 2},
            "rate": 0.4,
            "label": "x",
        }
    }
    units = [{"p.acc": [0.0, 1.0]}, {"p.acc": [1.0, 1.0]}]
    pooled = pool_metrics([a, b], units, [0, 1], n_resamples=200)["p"]
    assert pooled["acc"]["per_seed"] == [0.5, 1.0] and pooled["acc"]["mean"] == 0.75
    assert pooled["acc"]["resampled"] == "seeds>problems" and pooled["acc"]["seeds"] == [0, 1]
    assert pooled["auroc"]["resampled"] == "seeds" and abs(pooled["auroc"]["mean"] - 0.8) < 1e-12
    assert abs(pooled["rate"] - 0.3) < 1e-12 and pooled["label"] == "x"
    mixed = pool_metrics([{"d": None}, {"d": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}}], [{}, {}], [0, 1], 100)
    assert mixed["d"] == {
        "per_seed": [None, {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}],
        "seeds": [0, 1],
        "pooled": None,
    }


def test_a_last_round_short_of_workers_gets_every_thread():
    assert thread_plan(5, 2, 2) == [1, 1, 1, 1, 2]  # the fifth seed runs alone: both cores
    assert thread_plan(4, 2, 2) == [1, 1, 1, 1]  # full rounds: unchanged
    assert thread_plan(7, 3, 6) == [2] * 6 + [6]
    assert thread_plan(5, 4, 8) == [2, 2, 2, 2, 8]
    assert thread_plan(2, 2, 2) == [1, 1] and thread_plan(1, 1, 2) == [2]
    assert thread_plan(3, 2, 1) == [1, 1, 1]  # never below one thread
    assert thread_plan(6, 4, 8) == [2, 2, 2, 2, 4, 4]


def _run(config, run_dir, *flags, sets=()):
    """``autoalign run CONFIG --run-dir RUN_DIR FLAGS --set ...`` in a subprocess; asserts it succeeded."""
    cmd = [sys.executable, "-m", "autoalign", "run", config, "--run-dir", str(run_dir), *flags]
    r = subprocess.run(cmd + [x for kv in sets for x in ("--set", kv)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _fanout(tmp_path, executor):
    run_dir = tmp_path / executor
    # threads=2: two workers of one thread each (a serial run: its seeds in turn on two)
    sets = ["seeds=[0,1,2]", f"executor={executor}", "threads=2", ENDPOINT, *FACTS]
    r = _run("configs/debate_facts.yaml", run_dir, "--json", sets=sets)
    metrics = json.loads(r.stdout)["metrics"]
    debate = metrics["debate_facts"]["facts"]["debate"]
    assert debate["seeds"] == [0, 1, 2] and len(debate["per_seed"]) == 3
    assert debate["resampled"] == "seeds>problems" and debate["ci_low"] <= debate["mean"] <= debate["ci_high"]
    for s in (0, 1, 2):
        sub = json.loads((run_dir / f"seed-{s}" / "metrics.json").read_text())
        assert sub["debate_facts"]["facts"]["debate"]["mean"] == debate["per_seed"][s]
    assert len(set(debate["per_seed"])) > 1  # fresh seeds: fresh judges and questions
    assert "Seeds" in (run_dir / "report.html").read_text()
    # the pre-registered endpoint is judged on the same per-seed values (a t-test), in the block and the report
    ep = metrics["endpoints"]["primary"]["debate_beats_chance"]
    assert ep["per_seed"] == debate["per_seed"] and ep["estimate"]["mean"] == pytest.approx(debate["mean"], abs=1e-6)
    assert ep["estimate"]["ci_low"] < ep["estimate"]["mean"] < ep["estimate"]["ci_high"]
    assert ep["status"] in ("held", "not held") and 0 < ep["p_value"] <= 1 and ep["p_holm"] == ep["p_value"]
    assert "Pre-registered endpoints" in (run_dir / "report.html").read_text()
    return debate


def test_seeds_on_a_process_pool_match_serial(tmp_path):
    pooled = _fanout(tmp_path, "process")
    serial = _fanout(tmp_path, "serial")
    assert pooled["per_seed"] == serial["per_seed"]


def test_seeds_on_ray(tmp_path):
    pytest.importorskip("ray")
    _fanout(tmp_path, "ray")


def test_sweep_runs_every_point_and_reports_each(tmp_path):
    run_dir = tmp_path / "sweep"
    r = _run("configs/debate_facts.yaml", run_dir, sets=["sweep={debate_facts.rounds: [1, 3]}", *FACTS])
    assert "[debate_facts.rounds=1]" in r.stdout and "[debate_facts.rounds=3]" in r.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    one, three = (metrics[f"debate_facts.rounds={k}"]["debate_facts"]["facts"]["debate"] for k in (1, 3))
    assert one["per_seed"] != three["per_seed"]  # the sweep changed what was run
    assert "Sweep point" in (run_dir / "report.html").read_text()


def test_process_executor_with_side_by_side_stages_inside_finishes(tmp_path):
    """Sub-runs with two threads each run their own stages side by side (a pool inside a pool
    worker): the fan-out must still finish (the inner pool is shut down with its sub-run)."""
    run_dir = tmp_path / "nested"
    digits = ["ks=[4]", "judge_steps=100", "test_images=10", "search=greedy", "random_draws=2"]
    sets = ["seeds=[0,1]", "executor=process", "threads=4", "bootstrap_resamples=100"]
    _run("configs/debate_digits.yaml", run_dir, "--quiet", sets=sets + [f"debate_digits.{kv}" for kv in digits])
    pooled = json.loads((run_dir / "metrics.json").read_text())["debate_digits"]["debate"]["k4"]["honest_win"]
    assert len(pooled["per_seed"]) == 2
