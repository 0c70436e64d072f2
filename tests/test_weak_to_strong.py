"""Weak-to-strong: the PGR arithmetic and its guard, the confidence loss, sealed labels, fail-closed
scoring and the canaries, on constructed cases (seconds; the end-to-end run is in the science file)."""

from __future__ import annotations

import contextvars
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from autoalign.overseers.lm_classifier import confidence_loss
from autoalign.protocols.weak_to_strong import canary, sealed_test_labels
from autoalign.protocols.weak_to_strong import scoring as scoring_module
from autoalign.protocols.weak_to_strong import sealed as sealed_module
from autoalign.protocols.weak_to_strong.config import CANARIES, WeakToStrongConfig
from autoalign.protocols.weak_to_strong.gap import gap_guard, noise_floor, pgr_estimate, pgr_point
from autoalign.protocols.weak_to_strong.scoring import score
from autoalign.protocols.weak_to_strong.sealed import SealedLabels, SealedLabelsError, correct_vector, scoring
from autoalign.protocols.weak_to_strong.tasks import items, world_items


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


def _canaries(supervisor: list[float], w=None) -> dict:
    """Both canaries run as the protocol runs them (their stage, then the final scoring stage)."""
    w = w or WeakToStrongConfig(weak_items=40, transfer_items=40, test_items=120)
    ctx = SimpleNamespace(seed=0, bootstrap_resamples=100, boot={"n_resamples": 100, "seed": 0})
    preds = {"pairs": {}, "canaries": {k: canary(ctx, k, {"transfer": supervisor}, w) for k in CANARIES}}
    return score(ctx, w, preds)["canaries"]


def _test_items(w):
    return items(SimpleNamespace(seed=0), w, "test")


def test_both_canaries_are_caught_and_an_honest_method_is_not():
    """With the guards in place: ``peek`` is refused (no predictions, scored 0%) and flagged;
    ``majority`` is scored (its accuracy is the majority class's share) but flagged as constant. The
    same scoring does not flag an honest method: the world's checker read off each test text, right
    on every item without the labels, is scored 100% with no flag (the guards fire on the canaries,
    not on anything that scores well)."""
    w = WeakToStrongConfig(weak_items=40, transfer_items=40, test_items=120)
    got = _canaries([0.7] * 30 + [0.2] * 10, w)
    assert got["peek"]["caught"] and "sealed" in got["peek"]["flags"][0] and got["peek"]["accuracy"]["mean"] == 0.0
    share = float(np.mean([it.label for it in _test_items(w)]))  # the supervisor's majority is "correct"
    assert got["majority"]["caught"] and any("constant" in f for f in got["majority"]["flags"])
    assert got["majority"]["accuracy"]["mean"] == pytest.approx(share)
    world = w.world.make()
    honest = [0.9 if world.check(it.problem, it.body).correct else 0.1 for it in _test_items(w)]
    right, flags = correct_vector(honest, sealed_test_labels(SimpleNamespace(seed=0), w))
    assert right.mean() == 1.0 and flags == []


def test_the_peek_canary_scores_perfectly_once_the_seal_is_removed(monkeypatch):
    """The guard removed: with the seal open outside the scoring stage (as if the labels were a plain
    list), the same ``peek`` canary reads the test labels, scores 100% and is not flagged. So the seal
    is what stops it, not something else in scoring."""
    monkeypatch.setattr(sealed_module, "_SCORING", contextvars.ContextVar("unsealed", default=True))
    got = _canaries([0.7] * 30 + [0.2] * 10)["peek"]
    assert got["accuracy"]["mean"] == 1.0 and got["flags"] == [] and not got["caught"]


def test_the_majority_canary_passes_unflagged_once_the_constant_check_is_removed(monkeypatch):
    """The guard removed: scoring without its constant-prediction flag scores ``majority`` at the
    majority class's share (above 50%, as good as a weak supervisor that is barely better than the
    majority class: 60.8% against 58.5% in the README's micro supervisor) with no flag at all; the
    fail-closed checks do not catch it (its predictions are well formed), the constant check alone
    does."""
    real = scoring_module.correct_vector

    def without_constant_check(predictions, sealed):
        right, flags = real(predictions, sealed)
        return right, [f for f in flags if "constant" not in f]

    monkeypatch.setattr(scoring_module, "correct_vector", without_constant_check)
    w = WeakToStrongConfig(weak_items=40, transfer_items=40, test_items=120)
    got = _canaries([0.7] * 30 + [0.2] * 10, w)["majority"]
    share = float(np.mean([it.label for it in _test_items(w)]))
    assert share > 0.5 and got["accuracy"]["mean"] == pytest.approx(share)
    assert got["flags"] == [] and not got["caught"]


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
