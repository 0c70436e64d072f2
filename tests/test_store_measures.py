import numpy as np

from autoalign.measures import bootstrap_ci, cluster_accuracy
from autoalign.runtime.context import RunContext
from autoalign.runtime.store import RunStore, atomic_write_json, atomic_write_text

CALLS = []


def record(ctx, x):
    CALLS.append(x)
    return {"x": x}


def boom(ctx):
    raise RuntimeError("x")


def test_stage_runs_once_per_inputs_and_records_result(tmp_path):
    CALLS.clear()
    ctx = RunContext(str(tmp_path / "run"), seed=0)
    assert ctx.stage("a", record, 1) == {"x": 1}
    again = RunContext(str(tmp_path / "run"), seed=0)
    assert again.stage("a", record, 1) == {"x": 1}  # reused: same name, inputs, seed and code
    assert CALLS == [1]
    assert again.stage("a", record, 2) == {"x": 2}  # other inputs: computed
    assert RunContext(str(tmp_path / "run"), seed=1).stage("a", record, 1) == {"x": 1}
    assert CALLS == [1, 2, 1]  # another seed is another stage
    assert len(list((tmp_path / "run" / "stages").glob("a.*.json"))) == 3
    kinds = [line for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert any("stage_skipped" in k for k in kinds)


def test_failed_stage_is_not_recorded(tmp_path):
    ctx = RunContext(str(tmp_path / "run"), seed=0)
    try:
        ctx.stage("a", boom)
    except RuntimeError:
        pass
    assert "a" not in ctx.store.finished_stages


def test_atomic_write_leaves_no_temporaries(tmp_path):
    atomic_write_text(tmp_path / "f.txt", "one")
    atomic_write_json(tmp_path / "f.txt", {"two": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    assert '"two": 2' in (tmp_path / "f.txt").read_text()


def test_results_are_namespaced_per_protocol_and_units_kept_apart(tmp_path):
    store = RunStore(tmp_path)
    store.write_results("generator", {"accuracy": bootstrap_ci([1, 0, 1], n_resamples=100)})
    store.write_results("best_of_n", {"generator": {"x": 2}})
    m = store.metrics
    assert set(m) == {"generator", "best_of_n"} and m["best_of_n"]["generator"] == {"x": 2}
    assert "_units" not in m["generator"]["accuracy"] and m["generator"]["accuracy"]["resampled"] == "problems"
    assert store.units == {"generator.accuracy": [1.0, 0.0, 1.0]}


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.random(30) < 0.4, seed=1)
    large = bootstrap_ci(rng.random(3000) < 0.4, seed=1)
    for e in (small, large):
        assert e["ci_low"] <= e["mean"] <= e["ci_high"]
    assert (large["ci_high"] - large["ci_low"]) < (small["ci_high"] - small["ci_low"]) / 5
    assert 0.37 < large["mean"] < 0.43 and large["ci_low"] < 0.4 < large["ci_high"]


def test_bootstrap_ci_coverage_is_near_95_percent():
    rng = np.random.default_rng(0)
    hits = 0
    for t in range(200):
        e = bootstrap_ci(rng.normal(1.0, 1.0, 60), n_resamples=500, seed=t)
        hits += e["ci_low"] <= 1.0 <= e["ci_high"]
    assert 0.88 <= hits / 200 <= 0.99


def test_cluster_accuracy_resamples_problems():
    # two problems, each always right or always wrong: the CI must see only 2 clusters
    ids = [0] * 50 + [1] * 50
    correct = [True] * 50 + [False] * 50
    e = cluster_accuracy(ids, correct, seed=0)
    assert e["mean"] == 0.5 and e["n"] == 2 and e["ci_low"] == 0.0 and e["ci_high"] == 1.0


def test_sweep_expands_to_points_times_seeds_and_checks_values(tmp_path):
    import pytest

    from autoalign.config import load_config
    from autoalign.errors import UserError
    from autoalign.orchestration.fanout import expand

    cfg = load_config("configs/debate_facts.yaml", ["seeds=[0,1]", "sweep={debate_facts.rounds: [1, 3]}"])
    tasks = expand(cfg, tmp_path)
    assert [(t.label, t.seed) for t in tasks] == [
        ("debate_facts.rounds=1", 0),
        ("debate_facts.rounds=1", 1),
        ("debate_facts.rounds=3", 0),
        ("debate_facts.rounds=3", 1),
    ]
    assert tasks[2].config["debate_facts"]["rounds"] == 3 and "seeds" not in tasks[2].config
    bad = load_config("configs/debate_facts.yaml", ["sweep={debate_facts.rounds: [1, 99]}"])
    with pytest.raises(UserError, match="debate_facts.rounds"):
        expand(bad, tmp_path)


def test_the_stage_key_hashes_computing_code_and_not_the_command_line():
    """A stage is recomputed when code that computes changes, not when the CLI, the report or the
    runner does (a new plot or command reuses every stage)."""
    from pathlib import Path

    import autoalign
    from autoalign.runtime.context import computing_sources

    root = Path(autoalign.__file__).resolve().parent
    names = {str(f.relative_to(root)) for f in computing_sources(root)}
    assert "models/sampling.py" in names and "protocols/best_of_n/__init__.py" in names
    assert "overseers/verifier.py" in names
    assert not {n for n in names if n.startswith(("cli/", "report/", "orchestration/"))}
    assert (root / "cli" / "runs.py").exists()  # the command line is there, and left out
