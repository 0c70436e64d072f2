"""Calibrating the judge per protocol, and scoring its verdicts by more than accuracy.

The judge is fit on random-quote transcripts, not on the transcripts a protocol produces, so its
probabilities need not mean what they say there (best-of-N quotes are selected to move it). Each
protocol therefore gets its own map, p = sigmoid(slope * logit(p_judge)) for "answer 0 is correct"
(temperature scaling: Platt without an intercept, since which answer is listed first is random, so
an intercept would only learn position noise and flip verdicts that sit at 0.5), fit on transcripts of that protocol played on held-out calibration
questions (the world's "val" split: neither the judge's training questions nor the test ones).

Verdicts are then scored per question by accuracy (p(correct) > 0.5; exactly 0.5 counts half), p(correct) and log-loss
(-log p(correct)); a map that only rescales the logit (with a positive slope) leaves accuracy
alone, so calibration changes what the judge's confidence means, not its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...measures import bootstrap_ci

EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS], so one sure wrong verdict costs ~13.8 nats


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class PlattMap:
    """p_first -> sigmoid(slope * logit(p_first) + intercept); the identity is slope 1, intercept 0."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, p_first) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * logit(p_first) + self.intercept)))

    def to_dict(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept}


def fit_platt(p_first, first_correct) -> PlattMap:
    """The temperature (slope, no intercept) that best predicts ``first_correct`` from the judge's
    ``p_first`` (maximum likelihood, almost unregularised). With one class only: identity."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(first_correct, dtype=int)
    if y.min() == y.max():
        return PlattMap()
    z = logit(p_first)[:, None]
    lr = LogisticRegression(C=1e6, max_iter=1000, fit_intercept=False).fit(z, y)
    # a negative slope would turn the judge's verdicts around on noise (a blind judge's logits are
    # within 1e-3 of 0): calibration may say a judge knows nothing (slope 0), never the opposite
    return PlattMap(max(0.0, float(lr.coef_[0][0])), 0.0)


def to_first(p_correct, correct) -> np.ndarray:
    """p(answer 0 is right) from p(correct answer) and the index of the correct answer."""
    p, c = np.asarray(p_correct, dtype=float), np.asarray(correct)
    return np.where(c == 0, p, 1 - p)


def to_correct(p_first, correct) -> np.ndarray:
    return to_first(p_first, correct)  # the same flip, read the other way


def log_loss(p_correct) -> np.ndarray:
    """Per-question log-loss (nats) of the verdict: -log p(correct), clipped at ``EPS``."""
    return -np.log(np.clip(np.asarray(p_correct, dtype=float), EPS, 1.0))


def scores(p_correct, boot: dict) -> dict:
    """Accuracy (a verdict of exactly 0.5 is a coin flip: half right), mean p(correct) and log-loss,
    each an estimate over questions."""
    p = np.asarray(p_correct, dtype=float)
    right = np.where(np.abs(p - 0.5) < 1e-12, 0.5, (p > 0.5).astype(float))
    return {
        "accuracy": bootstrap_ci(right, **boot),
        "mean_p_correct": bootstrap_ci(p, **boot),
        "log_loss": bootstrap_ci(log_loss(p), **boot),
    }
