"""A simulator: a neuron's activations on excerpts, predicted from its explanation alone.

Bills et al. (2023) have a chat model read the explanation and predict, token by token, an activation
on a 0 to 10 scale. The grammar simulator does the same without a model: it looks the explanation up in
the grammar (an explanation it cannot read is an error, never a guess) and predicts 10 times the
feature's signal. It never sees the true activations, so correlation with them measures the explanation
and nothing else. Any callable ``(explanation, excerpts) -> one array per excerpt`` is a simulator, so a
chat model can play the role later.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import UserError
from .features import Grammar
from .records import Excerpt

SCALE = 10.0  # Bills et al.'s simulator predicts activations on 0..10
Simulator = Callable[[str, Sequence[Excerpt]], list[np.ndarray]]


class GrammarSimulator:
    """Predicts ``SCALE`` times the named grammar feature's signal on every token."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar

    def __call__(self, explanation: str, excerpts: Sequence[Excerpt]) -> list[np.ndarray]:
        try:
            i = self.grammar.index(explanation)
        except KeyError:
            raise UserError(f"the grammar simulator cannot read the explanation {explanation!r}") from None
        return [SCALE * self.grammar.token_matrix(e.text, e.offsets)[:, i].astype(np.float64) for e in excerpts]
