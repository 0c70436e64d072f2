"""The PRM and ORM as registered overseers: fine-tuned from a white-box backbone's copy.

``prm`` and ``orm`` are :class:`~autoalign.overseers.verifier.StepVerifier` s with the
log-likelihood head (``verifier.py`` says why that head), trained by ``train_verifier`` on the
world's step spans and the checker's labels. A protocol that trains verifiers its own way (best-of-N
caches each as a stage and crosses labels with aggregations) uses the same classes underneath; this
is the path every other protocol and a plugin's experiment gets by naming ``prm`` or ``orm``.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch

from ..records import LabelledSolution
from ..registry import overseers
from .base import Overseer, OverseerScores
from .training import solution_score, step_probabilities, train_verifier
from .verifier import StepVerifier


def labelled(world, problems: Sequence[Any], texts: Sequence[str], verdicts: Sequence[Any]) -> list[LabelledSolution]:
    """Solutions as verifier training data: the world's spans, the checker's step labels, and
    final-answer correctness as the label of the answer step."""
    out = []
    for p, t, v in zip(problems, texts, verdicts):
        spans = world.steps(t)
        labels = list(v.step_labels)
        if len(spans) > len(labels):
            labels += [bool(v.correct)] * (len(spans) - len(labels))
        if spans:
            out.append(LabelledSolution(p.prompt, t, tuple(spans), tuple(labels[: len(spans)])))
    return out


class StepVerifierOverseer(Overseer):
    """A PRM or ORM on a copy of the context's backbone (its LM head kept)."""

    kind = "prm"
    needs_backbone = True

    def __init__(self, ctx):
        super().__init__(ctx)
        lm, self.tokenizer = ctx.backbone
        torch.manual_seed(ctx.seed)
        self.verifier = StepVerifier(copy.deepcopy(lm), self.kind)
        self.history: list[float] = []

    def fit(self, problems, texts, verdicts):
        examples = labelled(self.ctx.world, problems, texts, verdicts)
        if examples:
            c = self.ctx
            self.history = train_verifier(
                self.verifier,
                self.tokenizer,
                examples,
                c.steps,
                c.batch_size,
                c.lr,
                c.head_lr,
                seed=c.seed,
                description=c.description or f"training {self.kind}",
            )
        return self

    def score(self, problems, texts) -> list[OverseerScores]:
        spans = [self.ctx.world.steps(t) for t in texts]
        probs = step_probabilities(
            self.verifier,
            self.tokenizer,
            [p.prompt for p in problems],
            list(texts),
            spans,
            description=f"scoring {self.kind}",
        )
        return [OverseerScores(solution_score(p, self.kind), tuple(float(x) for x in p)) for p in probs]


@overseers.register("prm")
class ProcessRewardModel(StepVerifierOverseer):
    """Process supervision: is each step right? A solution scores the product of its steps."""

    kind = "prm"


@overseers.register("orm")
class OutcomeRewardModel(StepVerifierOverseer):
    """Outcome supervision: will the final answer be right? Read at the last step."""

    kind = "orm"
