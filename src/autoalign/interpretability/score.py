"""Scores of an explanation against a neuron's true activations, on held-out excerpts.

- **Correlation** (Bills et al. 2023): Pearson correlation between simulated and true activations over
  every token of the held-out top and random excerpts, pooled ("all at once"). 1 is a perfect
  simulation up to scale and offset, 0 is chance. When either side is constant the correlation is
  undefined; it is reported as 0 with the reason, never as NaN, so a constant simulation (an explanation
  that never fires on these excerpts) is counted as explaining nothing.
- **Detection** (delphi): can the explanation tell which excerpts activate the neuron? Held-out top
  excerpts are positives, random excerpts negatives; an excerpt's score is its largest simulated
  activation. AUROC, and balanced accuracy of "it fires" (above half the largest simulation).
- **Fuzzing** (delphi): can the explanation tell the tokens that truly activate (at least half the
  excerpt's maximum) from as many other tokens marked at random? Each held-out top excerpt appears
  once with its true marks and once with fuzzed ones; the score of a marking is the mean simulated
  activation on its marked tokens. AUROC and balanced accuracy, as for detection.

Both classifier scores use scikit-learn's metrics; they are NaN, with the reason, when a class is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from .records import Excerpt


@dataclass(frozen=True)
class CorrelationScore:
    value: float
    reason: str = ""  # why the value is 0 by convention (a constant side), else empty


@dataclass(frozen=True)
class ClassifierScore:
    auroc: float
    balanced_accuracy: float
    n: int  # items classified
    reason: str = ""


def correlation_score(simulated: Sequence[np.ndarray], true: Sequence[Sequence[float]]) -> CorrelationScore:
    """Pearson correlation of simulated with true activations, pooled over excerpts."""
    s = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in simulated])
    t = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in true])
    if s.shape != t.shape:
        raise ValueError(f"simulated {s.shape} and true {t.shape} activations differ in length")
    if s.size < 2 or np.ptp(s) == 0:
        return CorrelationScore(0.0, "constant simulation: the explanation predicts no variation here")
    if np.ptp(t) == 0:
        return CorrelationScore(0.0, "constant activations: there is nothing to explain here")
    return CorrelationScore(float(np.corrcoef(s, t)[0, 1]))


def _classify(labels: np.ndarray, scores: np.ndarray) -> ClassifierScore:
    if labels.min(initial=1) == labels.max(initial=0):
        return ClassifierScore(float("nan"), float("nan"), len(labels), "one class is empty")
    top = scores.max()
    predicted = scores > 0.5 * top if top > 0 else np.zeros_like(labels, dtype=bool)
    return ClassifierScore(
        float(roc_auc_score(labels, scores)), float(balanced_accuracy_score(labels, predicted)), len(labels)
    )


def detection_score(simulated_top: Sequence[np.ndarray], simulated_random: Sequence[np.ndarray]) -> ClassifierScore:
    """Top (positive) against random (negative) excerpts, each scored by its largest simulated activation."""
    peak = [float(np.max(s)) if len(s) else 0.0 for s in list(simulated_top) + list(simulated_random)]
    labels = np.array([1] * len(simulated_top) + [0] * len(simulated_random))
    return _classify(labels, np.asarray(peak))


def fuzzing_score(
    excerpts: Sequence[Excerpt], simulated: Sequence[np.ndarray], rng: np.random.Generator, active: float = 0.5
) -> ClassifierScore:
    """Truly activating tokens (>= ``active`` times the excerpt's maximum) against as many random others."""
    labels, scores = [], []
    for e, sim in zip(excerpts, simulated):
        a = np.asarray(e.activations, dtype=np.float64)
        peak = a.max(initial=0.0)
        marked = np.flatnonzero(a >= active * peak) if peak > 0 else np.array([], dtype=int)
        others = np.setdiff1d(np.arange(len(a)), marked)
        if len(marked) == 0 or len(others) < len(marked):
            continue  # no activating token, or too few others to fuzz with
        fuzzed = rng.choice(others, size=len(marked), replace=False)
        labels += [1, 0]
        scores += [float(np.mean(sim[marked])), float(np.mean(sim[fuzzed]))]
    if not labels:
        return ClassifierScore(float("nan"), float("nan"), 0, "no excerpt has tokens to mark and to fuzz")
    return _classify(np.asarray(labels), np.asarray(scores))
