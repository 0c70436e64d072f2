"""Debaters that plan one reply ahead, against the judge they know.

A best-of-N debater takes the quote that moves the judge most now; a quote that looks good alone
may be easy to answer. The lookahead debater also imagines the opponent's reply: it draws the
candidates a best-of-N opponent would draw and scores each of its own quotes by the judge's verdict
after the opponent's best reply to it (max over own quotes of the min over replies). On the last
turn of a debate, or when nobody replies (consultancy), it is the greedy best-of-N debater.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci
from .games import BestOfNDebater, as_argument, debate, side_value
from .roles import DebaterView, Judge


class LookaheadDebater(BestOfNDebater):
    """Best-of-N with one opponent reply looked ahead; ``turns``: the debate's length in quotes."""

    def __init__(self, judge: Judge, n: int, fabricate: float, rng: np.random.Generator, turns: int):
        super().__init__(judge, n, fabricate, rng)
        self.turns = turns

    def argue(self, view: DebaterView) -> str:
        if len(view.arguments) + 1 >= self.turns:
            return super().argue(view)
        picks = self.candidates(view)
        other = 1 - view.side
        replies = self.candidates(DebaterView(view.question, other, view.arguments))
        q = view.question

        def worst(quote: str) -> float:
            mine = as_argument(q, view.side, quote)
            return min(side_value(self.judge, view, (mine, as_argument(q, other, r)), view.side) for r in replies)

        return max(picks, key=worst)


def run_planning(questions, judge: Judge, d, rng: np.random.Generator, boot: dict) -> dict:
    """Debate accuracy (and the share showing the whole proof) with greedy or planning debaters
    on each side; ``d``: the protocol's config (strength, fabrication, rounds)."""
    from .proof import shows_proof

    turns = 2 * d.rounds

    def make(plans: bool):
        if plans:
            return LookaheadDebater(judge, d.debater_strength, d.fabricate, rng, turns)
        return BestOfNDebater(judge, d.debater_strength, d.fabricate, rng)

    out = {}
    for name, (honest_plans, liar_plans) in {
        "greedy": (False, False),
        "honest_plans": (True, False),
        "liar_plans": (False, True),
        "both_plan": (True, True),
    }.items():
        won, proof = [], []
        for i, q in enumerate(questions):
            p, args = debate(q, judge, make(honest_plans), make(liar_plans), d.rounds, honest_first=i % 2 == 0)
            won.append(p > 0.5)
            proof.append(shows_proof(q, args))
        out[name] = {
            "debate": bootstrap_ci(np.asarray(won, float), **boot),
            "proof_shown": bootstrap_ci(np.asarray(proof, float), **boot),
        }
    return out
