"""The facts judge as a registered overseer (``facts_judge``) of argued answers.

A facts question is answered by a name; what a judge oversees is an *argued* answer, as a consultant
gives one: the name on the first line, then one quote of the story per line. The overseer runs each
quote through the world's quote checker (the judge itself never reads the story, as in debate) and
asks the judge (``facts_judge.QuoteJudge``, the same model as in facts debate) how likely the argued
answer is to be right, with the argued answer put first so that p(first) is p(argued). Its ``fit``
learns the judge from argued answers and the checker's verdicts on their names. It judges
``"arguments"``, not ``"solutions"``: protocols that need step-chain solutions refuse it in one line.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..records import Argument, JudgeView
from ..registry import overseers
from ..worlds.facts import Question, check_quote
from .base import Overseer, OverseerScores
from .facts_judge import QuoteJudge, judge_features

ARGUMENTS = "arguments"
FLOOR = 1e-12  # the probability an argued answer that names neither answer gets (its log is the score)


def write_argument(answer: str, quotes: Sequence[str]) -> str:
    return "\n".join([answer, *quotes])


def read_argument(text: str) -> tuple[str, list[str]]:
    """(the answer named on the first line, the quotes on the lines after it; blank lines skipped)."""
    lines = text.split("\n") if isinstance(text, str) else [""]
    return lines[0].strip(), [line for line in lines[1:] if line.strip()]


def argued_view(question: Question, text: str) -> JudgeView | None:
    """What the judge sees of an argued answer (the argued answer first), or None if it names neither."""
    answer, quotes = read_argument(text)
    if answer not in question.answers:
        return None
    other = question.answers[1 - question.answers.index(answer)]
    arguments = tuple(Argument(0, q, check_quote(question, q) is not None) for q in quotes)
    return JudgeView(question.start, question.hops, (answer, other), arguments)


@overseers.register("facts_judge")
class FactsJudge(Overseer):
    """log p(the argued answer is right) under a logistic judge of verified quotes."""

    judges = ARGUMENTS

    def __init__(self, ctx):
        super().__init__(ctx)
        self.judge: QuoteJudge | None = None

    def fit(self, problems: Sequence[Any], texts: Sequence[str], verdicts: Sequence[Any]) -> "FactsJudge":
        views = [argued_view(q, t) for q, t in zip(problems, texts)]
        kept = [(v, bool(d.correct)) for v, d in zip(views, verdicts) if v is not None]
        if kept:
            x = np.stack([judge_features(v) for v, _ in kept])
            self.judge = QuoteJudge.fit_features(x, [c for _, c in kept])
        return self

    def score(self, problems: Sequence[Any], texts: Sequence[str]) -> list[OverseerScores]:
        out = []
        for q, t in zip(problems, texts):
            view = argued_view(q, t)
            p = FLOOR if view is None else 0.5 if self.judge is None else self.judge.prob_first(view)
            out.append(OverseerScores(math.log(max(p, FLOOR))))
        return out
