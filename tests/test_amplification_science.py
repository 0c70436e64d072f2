"""Amplification and recursive reward modeling end to end, at a size that runs in about a minute."""

import pytest

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run


def test_amplification_runs_end_to_end_and_its_targets_improve(tmp_path):
    cfg = load_config(
        "configs/amplification.yaml",
        [
            "bootstrap_resamples=200",
            "amplification.tasks=[sequential_assignments]",  # union_find: no check here (see below)
            "amplification.sizes=[3,4]",
            "amplification.steps=300",
            "amplification.eval_every=100",
            "amplification.val_questions=60",
            "amplification.test_questions=150",
        ],
    )
    store, _ = open_run(cfg, tmp_path / "run")
    m = execute(store, cfg)["amplification"]
    assert m["size"] == 4
    for task, r in m["amplification"].items():
        for key in ("amplified", "supervised", "gap"):
            assert set(r[key]) >= {"mean", "ci_low", "ci_high"}
        c = r["curve"]
        assert len(c["step"]) == 3 and c["step"][-1] == 300
        assert all(w == 0 for w in c["supervised_wrong_targets"])  # true answers are never wrong
        assert 0 <= min(c["amplified_wrong_targets"]) and max(c["amplified_wrong_targets"]) <= 1
        assert c["asked_per_question"][0] > 0
    # Where amplification works at this size (sequential assignments), its targets get better as the
    # model does; on union find it settles on always "n" (see the README), so no such check there.
    c = m["amplification"]["sequential_assignments"]["curve"]
    assert c["amplified_wrong_targets"][-1] < 0.05 and c["amplified_reach"][-1] > 0, c
    # sequential assignments is the easiest task: both methods beat the most common answer
    r = m["amplification"]["sequential_assignments"]
    assert r["supervised"]["mean"] > r["chance"] and r["amplified"]["mean"] > r["chance"], r
    assert "Iterated amplification" in store.file("report.html").read_text()


@pytest.mark.slow  # 14 s; tests/test_rrm.py covers the recursion in the unit phase
def test_rrm_runs_end_to_end_with_the_declared_user(tmp_path):
    cfg = load_config(
        "configs/rrm.yaml",
        [
            "bootstrap_resamples=200",
            "rrm.levels=2",
            "rrm.train_outcomes=400",
            "rrm.test_outcomes=100",
            "rrm.pretrain_steps=150",
            "rrm.steps=40",
        ],
    )
    store, _ = open_run(cfg, tmp_path / "run")
    m = execute(store, cfg)["rrm"]["rrm"]
    for key in ("recursive", "unassisted", "ceiling", "recursive_minus_unassisted"):
        assert set(m[key]) >= {"mean", "ci_low", "ci_high"}
    labels = m["label_accuracy"]
    assert labels["ceiling"] == 1.0
    assert abs(labels["unassisted"] - 0.7) < 0.08  # the user agrees with the truth ~70% unassisted
    assert 0.5 <= labels["recursive"] <= 1.0
    assert m["long_chain_steps"] == [3, 4] and "level1" in m["lower_levels"]
    assert "Recursive reward modeling" in store.file("report.html").read_text()
