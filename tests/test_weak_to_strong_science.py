"""Weak-to-strong end to end, small: every pair gets weak, student, ceiling and PGR (or its guard),
the noise floor is measured and both canaries are caught. Under ``make test-slow``: whether the
ceiling learns the task at this size is not settled yet (one run 63%, another 58% at a 58% majority
rate), so this checks the pipeline, not the science."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

from autoalign.config import load_config
from autoalign.runtime.runner import execute, open_run


def test_weak_to_strong_run(tmp_path):
    cfg = load_config("configs/weak_to_strong.yaml", [
        "weak_to_strong.sizes=[micro, tiny]", "weak_to_strong.pretrain_steps={micro: 30, tiny: 150}",
        "weak_to_strong.train_steps=120", "weak_to_strong.weak_items=400", "weak_to_strong.transfer_items=400",
        "weak_to_strong.test_items=300", "weak_to_strong.overseer_steps=20", "weak_to_strong.noise_seeds=1",
        "bootstrap_resamples=200"])
    store, _ = open_run(cfg, tmp_path / "run")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    assert set(pair["methods"]) == {"ce", "confidence", "overseer"}
    for m in pair["methods"].values():
        assert 0 <= m["student"]["mean"] <= 1 and 0 <= m["agreement"]["mean"] <= 1
        assert (m["pgr"] is None) == (pair["guard"] is not None)
    assert all(c["caught"] for c in r["canaries"].values()) and set(r["canaries"]) == {"majority", "peek"}
    assert "Weak-to-strong" in store.file("report.html").read_text()
    print({k: (p["weak"]["mean"], p["ceiling"]["mean"], {m: v["student"]["mean"] for m, v in p["methods"].items()})
           for k, p in r["pairs"].items()})
