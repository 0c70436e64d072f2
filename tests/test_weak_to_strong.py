"""Weak-to-strong: the PGR arithmetic and its guard, the confidence loss, sealed labels, fail-closed
scoring and the canaries, on constructed cases (seconds; the end-to-end run is in the science file)."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from autoalign.overseers.lm_classifier import confidence_loss
from autoalign.protocols.weak_to_strong import canary, sealed_test_labels
from autoalign.protocols.weak_to_strong.config import WeakToStrongConfig
from autoalign.protocols.weak_to_strong.gap import gap_guard, noise_floor, pgr_estimate, pgr_point
from autoalign.protocols.weak_to_strong.sealed import SealedLabels, SealedLabelsError, correct_vector, scoring
from autoalign.protocols.weak_to_strong.tasks import world_items


def test_pgr_arithmetic():
    assert pgr_point(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert pgr_point(0.6, 0.8, 0.8) == pytest.approx(1.0)
    assert pgr_point(0.6, 0.5, 0.8) == pytest.approx(-0.5)
    rng = np.random.default_rng(0)
    n = 4000
    weak = (rng.random(n) < 0.6).astype(float)
    ceiling = np.maximum(weak, rng.random(n) < 0.5)  # right wherever weak is, and on half the rest
    student = np.where(rng.random(n) < 0.5, ceiling, weak)  # recovers about half the gap
    est = pgr_estimate(weak, student, ceiling, n_resamples=500, seed=0)
    assert est["ci_low"] < 0.5 < est["ci_high"] and est["ci_high"] - est["ci_low"] < 0.15
    none = pgr_estimate(weak, weak, ceiling, n_resamples=500)  # a student no better than its supervisor
    assert none["mean"] == 0.0 and none["ci_low"] <= 0 <= none["ci_high"]
    # PGR(better) - PGR(student): a student recovering the whole gap vs one recovering half
    diff = pgr_estimate(weak, ceiling, ceiling, n_resamples=500, baseline=student)
    assert diff["ci_low"] < 0.5 < diff["ci_high"] and diff["ci_low"] > 0.3
    same = pgr_estimate(weak, student, ceiling, n_resamples=500, baseline=student)
    assert same["mean"] == 0.0 and same["ci_low"] == same["ci_high"] == 0.0


def test_gap_guard_refuses_a_pgr_without_a_gap():
    w = np.array([1, 1, 0, 0] * 50, float)
    assert gap_guard(w, w, 0.02) is not None and "does not beat" in gap_guard(w, w, 0.02)
    assert gap_guard(w, np.ones_like(w), 0.02) is None
    assert noise_floor([0.2, 0.4]) == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert noise_floor([0.3]) is None


def test_confidence_loss_is_cross_entropy_at_weight_zero():
    torch.manual_seed(0)
    logits, soft = torch.randn(64), torch.rand(64)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, soft)
    assert torch.equal(confidence_loss(logits, soft, 0.0), ce)
    assert not torch.allclose(confidence_loss(logits, soft, 0.5), ce)


def test_confidence_loss_hardens_to_the_weak_labels_class_balance():
    logits = torch.tensor([3.0, 2.0, 1.0, -1.0])
    soft = torch.tensor([0.9, 0.8, 0.2, 0.1])  # half positive: the top two predictions are hardened to 1
    hard = torch.tensor([1.0, 1.0, 0.0, 0.0])
    want = torch.nn.functional.binary_cross_entropy_with_logits(logits, hard)
    assert torch.allclose(confidence_loss(logits, soft, 1.0), want)


def test_sealed_labels_open_only_while_scoring():
    sealed = SealedLabels([1, 0, 1])
    with pytest.raises(SealedLabelsError):
        sealed.labels
    with scoring():
        assert sealed.labels == [1, 0, 1]
    with pytest.raises(SealedLabelsError):
        sealed.labels  # sealed again afterwards
    with pytest.raises(SealedLabelsError):
        pickle.dumps(sealed)


def test_scoring_fails_closed_and_flags_degenerate_predictions():
    sealed = SealedLabels([1, 0, 1, 0])
    right, flags = correct_vector([0.9, 0.1, 0.8, 0.3], sealed)
    assert right.tolist() == [1, 1, 1, 1] and flags == []
    right, flags = correct_vector([0.9, float("nan"), "yes", 0.3], sealed)
    assert right.tolist() == [1, 0, 0, 1] and any("unparseable" in f for f in flags)
    right, flags = correct_vector([0.9, 0.1], sealed)  # missing predictions count as wrong
    assert right.sum() == 2 and any("missing" in f for f in flags)
    right, flags = correct_vector(None, sealed)
    assert right.sum() == 0
    _, flags = correct_vector([0.9] * 4, sealed)
    assert any("constant" in f for f in flags)


def test_both_canaries_are_caught():
    w = WeakToStrongConfig(weak_items=40, transfer_items=40, test_items=40)
    ctx = SimpleNamespace(seed=0)
    peek = canary(ctx, "peek", {"transfer": [0.7] * 40}, w)
    assert peek["test"] is None and "sealed" in peek["flags"][0]
    majority = canary(ctx, "majority", {"transfer": [0.7] * 30 + [0.2] * 10}, w)
    _, flags = correct_vector(majority["test"], sealed_test_labels(ctx, w))
    assert any("constant" in f for f in flags)


def test_items_come_from_disjoint_splits_and_are_mixed():
    w = WeakToStrongConfig(weak_items=100, transfer_items=100, test_items=100)
    roles = {r: world_items(w, 0, r, 100) for r in ("weak", "transfer", "test")}
    texts = {r: {it.text for it in v} for r, v in roles.items()}
    assert not texts["weak"] & texts["test"] and not texts["transfer"] & texts["test"]
    share = np.mean([it.label for it in roles["test"]])
    assert 0.3 < share < 0.8
    step = WeakToStrongConfig(task="step", weak_items=60, transfer_items=60, test_items=60)
    items = world_items(step, 0, "test", 60)
    assert items and {it.label for it in items} == {0, 1} and all(it.text.endswith("?") for it in items)


def test_bad_pairs_are_config_errors():
    with pytest.raises(ValueError, match="weak model must come before"):
        WeakToStrongConfig(pairs=[("small", "micro")])


def test_models_are_lab_sizes_or_local_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="openai/gpt: a weak or strong model must be a local model"):
        WeakToStrongConfig(sizes=["micro", "openai/gpt"])
    with pytest.raises(ValueError, match="at most once"):
        WeakToStrongConfig(sizes=["micro", "micro"])
    with pytest.raises(ValueError, match="no entry for size small"):
        WeakToStrongConfig(sizes=["micro", "small"], pretrain_steps={"micro": 1})
    assert (
        WeakToStrongConfig(sizes=["micro", f"hf/{tmp_path}"], pretrain_steps={"micro": 1}).sizes[1] == f"hf/{tmp_path}"
    )
