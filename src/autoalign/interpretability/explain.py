"""An offline explainer: the grammar feature whose signal best fits a neuron's top excerpts.

Bills et al. (2023) show a chat model a neuron's top excerpts and ask for an explanation. Here the
explainer searches a fixed grammar (``features.py``) instead, so it runs offline, is deterministic and
has a known right answer when a feature is planted. Every feature is read on the excerpts' tokens and
ranked by its Pearson correlation with the true activations, pooled over the excerpts. Correlation is
the criterion because it is what the score measures and it is blind to a simulator's scale and offset:
the best-fitting feature is the best simulation. It is one matrix product per neuron.

The explainer sees only the excerpts it is given (the fit split); scoring on other excerpts is
``score.py``'s. A feature that is constant on the fit excerpts gets correlation 0, ties keep grammar order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .features import Grammar
from .records import Excerpt


@dataclass(frozen=True)
class Explanation:
    """A neuron's explanation: a description (all a simulator is given) and how well it fit."""

    text: str
    fit_correlation: float  # on the excerpts it was chosen on: a fit, not a score


def design(excerpts: Sequence[Excerpt], grammar: Grammar) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[tokens, features]`` and activations ``[tokens]`` pooled over ``excerpts``."""
    x = np.concatenate([grammar.token_matrix(e.text, e.offsets) for e in excerpts], axis=0)
    y = np.concatenate([np.asarray(e.activations, dtype=np.float64) for e in excerpts])
    return x.astype(np.float64), y


def column_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``y`` with every column of ``x``; 0 where either side is constant."""
    xc, yc = x - x.mean(axis=0), y - y.mean()
    norms = np.linalg.norm(xc, axis=0) * np.linalg.norm(yc)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc.T @ yc) / norms
    return np.where(norms > 1e-12, r, 0.0)


def explain(
    excerpts: Sequence[Excerpt], grammar: Grammar, shuffle: np.random.Generator | None = None
) -> list[Explanation]:
    """Every grammar feature as an explanation of the neuron in ``excerpts``, best fit first.

    ``shuffle``: permute the activations across the pooled tokens first (the shuffled-activation
    baseline: what the explainer finds in activations with no link to the text)."""
    x, y = design(excerpts, grammar)
    if shuffle is not None:
        y = shuffle.permutation(y)
    r = column_correlations(x, y)
    order = np.argsort(-r, kind="stable")
    return [Explanation(grammar.features[i].description, float(r[i])) for i in order]
