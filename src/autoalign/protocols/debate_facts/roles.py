"""Roles in debate and consultancy: what each participant sees and the one method it must provide.

The protocol in this package talk only to these interfaces, so a chat model can take any
role later (render the view as text, parse its reply) without the protocol changing. Views are
the information boundary: a :class:`JudgeView` holds no story, only the question, the two answers
and the arguments, each quote marked by the quote checker as verified or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ...records import Argument, JudgeView
from ...worlds.facts import Question


@dataclass(frozen=True)
class DebaterView:
    """What a debater or consultant sees: everything, including the story."""

    question: Question
    side: int  # the answer it must argue for
    arguments: tuple[Argument, ...] = field(default_factory=tuple)

    def judge_view(self, extra: tuple[Argument, ...] = ()) -> JudgeView:
        q = self.question
        return JudgeView(q.start, q.hops, q.answers, self.arguments + extra)


class Judge(Protocol):
    def prob_first(self, view: JudgeView) -> float:
        """Probability that ``view.answers[0]`` is correct."""


class Debater(Protocol):
    """Also the consultant: a debater arguing alone."""

    def argue(self, view: DebaterView) -> str:
        """The quote for this turn (any text; the protocol runs it through the quote checker)."""
