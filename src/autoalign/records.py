"""The records every part shares: a checker's Verdict, a labelled Sample, a debate Transcript.

They live here, not in any one world or protocol, so that worlds, overseers and protocols can pass
them to each other without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Verdict:
    """What a world's checker says of one solution text.

    ``step_labels[i]`` is True iff written step ``i`` is right (what "right" means is the world's:
    the gold step for arithmetic, a valid step that keeps the target reachable for countdown).
    ``correct`` is final-answer correctness; ``first_error`` the index of the first wrong step (None
    if every written step is right); ``step_grades`` PRM800K-style grades where the world has them.
    """

    step_texts: list[str]
    step_labels: list[bool]
    answer: int | str | None
    correct: bool
    well_formed: bool
    first_error: int | None = field(default=None)
    step_grades: list[str] | None = field(default=None)


@dataclass
class Sample:
    """One sampled solution with the checker's labels, as written to ``samples/*.jsonl``."""

    problem: int  # index of the problem in its list
    prompt: str
    n_steps: int
    text: str
    correct: bool
    well_formed: bool
    step_labels: list[bool]
    answer: int | str | None
    tokens: list[int] | None = None  # the generator's own token ids, where it was a local model

    @classmethod
    def from_verdict(cls, index: int, problem, text: str, v: Verdict, tokens: list[int] | None = None) -> "Sample":
        return cls(
            index, problem.prompt, problem.n_steps, text, v.correct, v.well_formed, v.step_labels, v.answer, tokens
        )


@dataclass(frozen=True)
class Argument:
    """One turn of a debate: the answer argued for, the quote, and the quote checker's verdict."""

    side: int  # index into the answers
    quote: str
    verified: bool


@dataclass(frozen=True)
class JudgeView:
    """A transcript as the judge sees it: the question, two answers and the arguments, no story.
    (How a reading judge sees it as text is the facts-debate protocol's: ``render_judge_view``.)"""

    start: str
    hops: int
    answers: tuple[str, str]
    arguments: tuple[Argument, ...] = ()


Transcript = tuple[Argument, ...]


@dataclass(frozen=True)
class LabelledSolution:
    """A solution with a label per step: what PRMs and ORMs train on. ``spans`` are the steps'
    character offsets in ``text`` (from ``World.steps``); the last span is the answer, whose label
    is final-answer correctness."""

    prompt: str
    text: str
    spans: tuple[tuple[int, int], ...]
    labels: tuple[bool, ...]
    tokens: tuple[int, ...] | None = None  # the generator's own token ids of ``text``, if known
