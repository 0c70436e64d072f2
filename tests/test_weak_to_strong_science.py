"""Weak-to-strong end to end at the demo's size (under ``make test-slow``): the pretrained tiny
ceiling beats the micro supervisor (there is a gap to recover), every method gets a PGR or its guard,
the PRM supervisor's soft labels fall on both sides of 0.5 (a constant supervisor taught nothing:
the bug the 5-seed run found), and both canaries are caught."""

from __future__ import annotations

import numpy as np
import pytest

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run

pytestmark = pytest.mark.slow

DEMO = [
    "weak_to_strong.sizes=[micro, tiny]",
    "weak_to_strong.pretrain_steps={micro: 150, tiny: 400}",
    "weak_to_strong.train_steps=120",
    "weak_to_strong.weak_items=600",
    "weak_to_strong.transfer_items=600",
    "weak_to_strong.test_items=400",
    "weak_to_strong.methods=[ce, confidence, overseer]",
    "weak_to_strong.overseer_steps=60",
    "bootstrap_resamples=300",
]


def test_weak_to_strong_run(tmp_path):
    cfg = load_config("configs/weak_to_strong.yaml", DEMO)
    store, _ = open_run(cfg, tmp_path / "run")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    assert pair["guard"] is None and pair["ceiling"]["mean"] > pair["weak"]["mean"] + 0.05
    assert set(pair["methods"]) == {"ce", "confidence", "overseer"}
    for m in pair["methods"].values():
        assert 0 <= m["student"]["mean"] <= 1 and 0 <= m["agreement"]["mean"] <= 1 and m["pgr"] is not None
    assert pair["noise_floor"] is not None
    overseer = store.finished_stages["w2s.micro.overseer"]["result"]
    labels = np.asarray(overseer["transfer"])
    assert 0.1 < float(np.mean(labels > 0.5)) < 0.9
    assert all(c["caught"] for c in r["canaries"].values()) and set(r["canaries"]) == {"majority", "peek"}
    assert "Weak-to-strong" in store.file("report.html").read_text()
