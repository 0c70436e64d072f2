"""The games on one question: the best-of-N debater, debate, consultancy, and a whole protocol pass.

They live apart from the stages in ``__init__`` so that the ablation, planning and long-walk
modules can replay exactly the same games against other judges or with other debaters.
"""

from __future__ import annotations

import numpy as np

from ...records import Argument, JudgeView
from ...worlds.facts import Fact, Question, check_quote, walk
from .proof import shows_proof
from .roles import Debater, DebaterView, Judge


def fabricated_line(question: Question, side: int, rng: np.random.Generator) -> str:
    """A line not in the story that would join the start to the walk ending at ``answers[side]``
    (a lie that would make that answer look proven); "" if no such line exists."""
    links = {f.source: f.target for f in question.story}
    answer = question.answers[side]
    targets = [r for r in links if (w := walk(links, r, question.hops - 1))[-1] == answer and len(w) == question.hops]
    targets = [t for t in targets if links.get(question.start) != t]
    return Fact(question.start, targets[rng.integers(len(targets))]).line if targets else ""


def side_value(judge: Judge, view: DebaterView, extra: tuple[Argument, ...], side: int) -> float:
    """The judge's probability for ``side`` after the arguments so far and ``extra``."""
    p = judge.prob_first(view.judge_view(extra))
    return p if side == 0 else 1 - p


def as_argument(question: Question, side: int, quote: str) -> Argument:
    return Argument(side, quote, check_quote(question, quote) is not None)


class BestOfNDebater:
    """Says the best of N candidate quotes, as judged by the (known, frozen) judge."""

    def __init__(self, judge: Judge, n: int, fabricate: float, rng: np.random.Generator):
        self.judge, self.n, self.fabricate, self.rng = judge, n, fabricate, rng

    def candidates(self, view: DebaterView) -> list[str]:
        lines = [f.line for f in view.question.story]
        picks = [lines[i] for i in self.rng.choice(len(lines), min(self.n, len(lines)), replace=False)]
        if self.rng.random() < self.fabricate:
            fake = fabricated_line(view.question, view.side, self.rng)
            if fake:
                picks[self.rng.integers(len(picks))] = fake
        return picks

    def argue(self, view: DebaterView) -> str:
        picks = self.candidates(view)
        if len(picks) == 1:
            return picks[0]
        return max(
            picks,
            key=lambda quote: side_value(self.judge, view, (as_argument(view.question, view.side, quote),), view.side),
        )


def _turn(question: Question, debater: Debater, side: int, args: tuple[Argument, ...]) -> Argument:
    return as_argument(question, side, debater.argue(DebaterView(question, side, args)))


def debate(
    question: Question, judge: Judge, honest: Debater, liar: Debater, rounds: int, honest_first: bool
) -> tuple[float, tuple[Argument, ...]]:
    """Judge's probability for the correct answer after a debate, and the transcript."""
    sides = [(honest, question.correct), (liar, 1 - question.correct)]
    if not honest_first:
        sides.reverse()
    args: tuple[Argument, ...] = ()
    for _ in range(rounds):
        for debater, side in sides:
            args += (_turn(question, debater, side, args),)
    return prob_correct(question, judge, args), args


def consultancy(
    question: Question, judge: Judge, consultant: Debater, side: int, rounds: int
) -> tuple[float, tuple[Argument, ...]]:
    args: tuple[Argument, ...] = ()
    for _ in range(rounds):
        args += (_turn(question, consultant, side, args),)
    return prob_correct(question, judge, args), args


def prob_correct(question: Question, judge: Judge, args: tuple[Argument, ...]) -> float:
    p = judge.prob_first(JudgeView(question.start, question.hops, question.answers, args))
    return p if question.correct == 0 else 1 - p


def random_transcript(question: Question, rounds: int, fabricate: float, rng: np.random.Generator) -> JudgeView:
    """Judge training data: a random number of random story lines, some fabricated lines too."""
    lines = [f.line for f in question.story]
    m = int(rng.integers(0, 2 * rounds + 3))
    args = [
        Argument(int(rng.integers(2)), lines[i], True)
        for i in rng.choice(len(lines), min(m, len(lines)), replace=False)
    ]
    if rng.random() < fabricate:
        wrong = 1 - question.correct
        fake = fabricated_line(question, wrong, rng)
        if fake:
            args.insert(int(rng.integers(len(args) + 1)), Argument(wrong, fake, False))
    return JudgeView(question.start, question.hops, question.answers, tuple(args))


def play_protocols(questions: list[Question], judge: Judge, make, rng: np.random.Generator, rounds: int) -> list[dict]:
    """Debate (who starts alternates), consultancy (side at random) and blind on each question.

    ``make()`` gives a fresh debater. One record per question: each protocol's p(correct), the
    consultant's side, both transcripts, and whether each transcript shows the whole proof."""
    rows = []
    for i, q in enumerate(questions):
        p_debate, transcript = debate(q, judge, make(), make(), rounds, honest_first=i % 2 == 0)
        side = int(rng.integers(2))
        p_consult, consult_args = consultancy(q, judge, make(), side, rounds)
        rows.append(
            {
                "question": q,
                "debate": p_debate,
                "debate_args": transcript,
                "consultant_honest": side == q.correct,
                "consultancy": p_consult,
                "consultancy_args": consult_args,
                "blind": prob_correct(q, judge, ()),
                "debate_proof": shows_proof(q, transcript),
                "consultancy_proof": shows_proof(q, consult_args),
            }
        )
    return rows
