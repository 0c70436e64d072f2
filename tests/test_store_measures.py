import numpy as np

from autoalign.measures import bootstrap_ci, cluster_accuracy
from autoalign.runtime.store import RunStore, atomic_write_json, atomic_write_text


def test_stage_runs_once_and_records_result(tmp_path):
    store = RunStore(tmp_path / "run")
    calls = []
    assert store.stage("a", lambda: calls.append(1) or {"x": 1}) == {"x": 1}
    again = RunStore(tmp_path / "run")
    assert again.stage("a", lambda: calls.append(2) or {"x": 2}) == {"x": 1}
    assert calls == [1] and again.is_done("a") and not again.is_done("b")
    kinds = [line for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert any("stage_skipped" in k for k in kinds)


def test_failed_stage_is_not_recorded(tmp_path):
    store = RunStore(tmp_path / "run")

    def boom():
        raise RuntimeError("x")

    try:
        store.stage("a", boom)
    except RuntimeError:
        pass
    assert not store.is_done("a")


def test_atomic_write_leaves_no_temporaries(tmp_path):
    atomic_write_text(tmp_path / "f.txt", "one")
    atomic_write_json(tmp_path / "f.txt", {"two": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    assert '"two": 2' in (tmp_path / "f.txt").read_text()


def test_metrics_merge(tmp_path):
    store = RunStore(tmp_path)
    store.update_metrics({"a": 1})
    store.update_metrics({"b": 2})
    assert store.metrics == {"a": 1, "b": 2}


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
