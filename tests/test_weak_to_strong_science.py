"""Weak-to-strong end to end, micro supervising tiny (under ``make test-slow``, 203 s on 2 cores at
seed 0): the pretrained tiny ceiling beats the micro supervisor (there is a gap to recover), PGR
credits a student that holds information the weak model lacks and does not credit one taught from
labels that carry none, and both canaries are caught in the run.

Two students are registered here beside the naive ``ce``, on the same pair, items and budget:

- ``test_shuffled_weak_labels``: ``ce`` on the weak labels shuffled across the transfer texts (the
  same labels and class balance, no information about which text is right). PGR must not show;
- ``test_head_start_only``: the strong student with its calibrated head start and a single training
  step, which reads the strong model's own log-likelihood (its latent knowledge from pretraining) and
  the labels' class balance only. PGR must show: it is the strong model's knowledge that a student
  has to recover, and this student has it without any supervision.

What is not checked, because it does not show at this size: that ``ce`` recovers part of the gap
from the weak labels. Measured at seed 0 (below), ``ce`` is no better than its shuffled control;
the weak labels (61.8% right) move the student away from its head start, not towards the ceiling.

Sizes: micro pretrained 400 steps, tiny 800 (the demo's 150 and 400 give a weak ceiling, 75.5%, and
a head-start PGR of +0.29 [+0.02, +0.51] at seed 0, too close to zero to assert).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from autoalign.config import load_config
from autoalign.methods.base import Method, MethodInputs, Predictions
from autoalign.methods.student import train_student
from autoalign.orchestration import execute, open_run
from autoalign.registry import methods

pytestmark = pytest.mark.slow

SIZE = [
    "weak_to_strong.sizes=[micro, tiny]",
    "weak_to_strong.pretrain_steps={micro: 400, tiny: 800}",
    "weak_to_strong.train_steps=120",
    "weak_to_strong.weak_items=600",
    "weak_to_strong.transfer_items=600",
    "weak_to_strong.test_items=400",
    "weak_to_strong.methods=[ce, test_shuffled_weak_labels, test_head_start_only]",
    "weak_to_strong.noise_seeds=0",
    "bootstrap_resamples=300",
]


def _predictions(out: dict) -> Predictions:
    return Predictions(test=out["test"], transfer=out["transfer"], history=out["history"])


@methods.register("test_shuffled_weak_labels")
class ShuffledWeakLabels(Method):
    """``ce`` on the weak labels in a random order: the labels' information removed, nothing else."""

    def run(self, inputs: MethodInputs) -> Predictions:
        labels = np.asarray(inputs.weak_labels)[np.random.default_rng(inputs.seed).permutation(len(inputs.weak_labels))]
        return _predictions(train_student(inputs, labels.tolist()))


@methods.register("test_head_start_only")
class HeadStartOnly(Method):
    """The strong student's calibrated head start (``ce``'s own starting point) and one training step."""

    def run(self, inputs: MethodInputs) -> Predictions:
        one_step = dataclasses.replace(inputs, budget=dataclasses.replace(inputs.budget, train_steps=1))
        return _predictions(train_student(one_step, inputs.weak_labels))


def recovers_gap(pgr: dict) -> bool:
    """A student recovers part of the gap: its PGR's 95% CI (test items, paired) is above zero."""
    return pgr is not None and pgr["ci_low"] > 0


def beats(a: dict, b: dict) -> bool:
    """One model is more accurate than another: their 95% CIs over the same test items apart."""
    return a["ci_low"] > b["ci_high"]


def test_weak_to_strong_run(tmp_path):
    """Seed 0 (measured): weak 61.8%, ceiling 87.5%; head start only 70.5%, PGR +0.34 [+0.19, +0.49];
    shuffled weak labels 60.0%, PGR -0.07 [-0.33, +0.17]; ``ce`` 64.0%, PGR +0.09 [-0.12, +0.29]
    (not asserted). The majority canary 57.5%, flagged; the peeking canary refused, flagged."""
    cfg = load_config("configs/weak_to_strong.yaml", SIZE)
    store, _ = open_run(cfg, tmp_path / "run")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    m = pair["methods"]
    assert pair["guard"] is None and set(m) == {"ce", "test_shuffled_weak_labels", "test_head_start_only"}

    # a gap to recover: the ceiling beats the weak model; a student taught nothing does not
    assert beats(pair["ceiling"], pair["weak"]), pair
    assert not beats(m["test_shuffled_weak_labels"]["student"], pair["weak"])

    # PGR credits the strong model's own knowledge, and not a student taught from shuffled labels
    assert recovers_gap(m["test_head_start_only"]["pgr"]), m["test_head_start_only"]
    assert not recovers_gap(m["test_shuffled_weak_labels"]["pgr"]), m["test_shuffled_weak_labels"]
    assert m["ce"]["pgr"] is not None and m["ce"]["flags"] == []

    # the canaries are caught in the run (that each guard is what catches it: test_weak_to_strong.py)
    assert set(r["canaries"]) == {"majority", "peek"} and all(c["caught"] for c in r["canaries"].values())
    assert r["canaries"]["peek"]["accuracy"]["mean"] == 0.0
    assert "Weak-to-strong" in store.file("report.html").read_text()
