"""Roles in debate and consultancy: what each participant sees and the one method it must provide.

The protocols in ``debate_facts.py`` talk only to these interfaces, so a chat model can take any
role later (render the view as text, parse its reply) without the protocol changing. Views are
the information boundary: a :class:`JudgeView` holds no story, only the question, the two answers
and the arguments, each quote marked by the quote checker as verified or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..worlds.facts import Question


@dataclass(frozen=True)
class Argument:
    """One turn: which answer the speaker argues for, what it quoted, and the checker's verdict."""

    side: int  # index into the answers
    quote: str
    verified: bool


@dataclass(frozen=True)
class JudgeView:
    start: str
    hops: int
    answers: tuple[str, str]
    arguments: tuple[Argument, ...] = ()

    def render(self) -> str:
        """The view as text, for a judge that reads (a chat model)."""
        lines = [f"Question: start in {self.start} and follow {self.hops} links. Where do you end?",
                 f"Answer 0: {self.answers[0]}", f"Answer 1: {self.answers[1]}"]
        for a in self.arguments:
            mark = "verified quote" if a.verified else "UNVERIFIED: not in the story"
            lines.append(f"For answer {a.side} ({mark}): {a.quote}")
        return "\n".join(lines)


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
