"""``step_table``: a lookup-table process reward model for any world with step spans.

It learns, for each exact step text, how often that step was right in its training solutions
(the answer step is labelled with final correctness), smoothed towards the overall rate; a
solution scores the sum of its steps' log-probabilities. No neural network: a floor any learned
PRM should beat, and an overseer an outside lab can write in forty lines against the contract.
"""

from __future__ import annotations

import math
from collections import Counter

from autoalign.overseers.base import Overseer, OverseerScores
from autoalign.registry import overseers


@overseers.register("step_table")
class StepTable(Overseer):
    prior_strength = 2.0

    def __init__(self, ctx):
        super().__init__(ctx)
        self.right, self.seen, self.rate = Counter(), Counter(), 0.5

    def _pieces(self, text: str) -> list[str]:
        return [text[a:b].strip() for a, b in self.ctx.world.steps(text)]

    def fit(self, problems, texts, verdicts):
        total = right = 0
        for text, v in zip(texts, verdicts):
            pieces = self._pieces(text)
            labels = list(v.step_labels) + [bool(v.correct)] * max(0, len(pieces) - len(v.step_labels))
            for piece, ok in zip(pieces, labels):
                self.seen[piece] += 1
                self.right[piece] += bool(ok)
                total, right = total + 1, right + bool(ok)
        self.rate = (right + 1) / (total + 2)
        return self

    def _p(self, piece: str) -> float:
        k = self.prior_strength
        return (self.right[piece] + k * self.rate) / (self.seen[piece] + k)

    def score(self, problems, texts):
        out = []
        for text in texts:
            probs = [self._p(p) for p in self._pieces(text)]
            out.append(OverseerScores(sum(math.log(p) for p in probs) if probs else float("-inf"), tuple(probs)))
        return out
