"""Outcomes on number chains: a chain from any value and its claimed value, ``7+5-3-2+8=15``.

For worlds whose problems carry one number left to right (``World.chains``): arithmetic chains, and
countdown solutions in left-to-right form (the given numbers combined in order under countdown's
rules, ``5*3+7+2=24``). A chain splits at any operation into a first part whose value a helper can
state and a rest that starts from that value, so a helper's statement is one number among all
``values`` of the world, and the user checks a short chain by computing it.

A piece is a window of a chain drawn from the world with ``lo`` up to the longest level's
operations, so that pieces start at any value a chain passes through (``57+3-2``), as the parts of
assisted evaluation do. A window's split is its own (a hash of its text), so held-out windows never
appear in training or pretraining. Wrong claims are off by 1 to 9 (mod ``values``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...worlds.base import ChainRules
from .outcomes import END, Outcome, Outcomes


@dataclass(frozen=True)
class Chain:
    """A left-to-right chain: ``start`` then ``ops`` ((operator, operand), ...) and its true value."""

    start: int
    ops: tuple[tuple[str, int], ...]
    answer: int | None

    @property
    def prompt(self) -> str:
        return outcome_prompt(self.start, self.ops)


def outcome_prompt(start: int, ops) -> str:
    return f"{start}" + "".join(f"{op}{b}" for op, b in ops) + "="


def outcome_text(start: int, ops, claim: int) -> str:
    return outcome_prompt(start, ops) + f"{claim}"


class ChainOutcomes(Outcomes):
    kind = "chains"
    unit = "operations"

    def __init__(self, rules: ChainRules, longest: int):
        self.rules, self.longest = rules, longest

    def evaluate(self, start: int, ops) -> int | None:
        """The chain's value; None where an operation is not allowed (countdown: negative, inexact)."""
        value: int | None = start
        for op, b in ops:
            if value is None:
                return None
            value = self.rules.apply(value, op, b)
        return value

    def pieces(self, lo, hi, seed, split, n, tag=None, distinct=False, judged=True) -> list[Chain]:
        rng = random.Random(f"rrm-pieces:{seed}:{split}:{lo}:{hi}:{tag}")
        out, seen = [], set()
        for _ in range(max(2000, 200 * n)):
            start, ops = self.rules.draw(rng, lo, max(hi, self.longest))
            k = rng.randint(lo, min(hi, len(ops)))
            cut = rng.randint(0, len(ops) - k)
            first = self.evaluate(start, ops[:cut])
            piece = Chain(first, tuple(ops[cut : cut + k]), self.evaluate(first, ops[cut : cut + k]))
            if self.rules.split_of(piece.prompt) != split or (distinct and piece.prompt in seen):
                continue
            seen.add(piece.prompt)
            out.append(piece)
            if len(out) == n:
                return out
        raise ValueError(f"rrm: found only {len(out)} {split} chains of {lo}-{hi} operations; ask for fewer")

    def length(self, piece: Chain) -> int:
        return len(piece.ops)

    def right_claim(self, piece: Chain) -> int | None:
        return piece.answer

    def wrong_claim(self, piece: Chain, rng: random.Random) -> int:
        return (piece.answer + rng.choice([-1, 1]) * rng.randint(1, 9)) % self.rules.values

    def is_right(self, piece: Chain, claim) -> bool:
        return self.evaluate(piece.start, piece.ops) == claim

    def options(self, piece: Chain) -> list[int]:
        return list(range(self.rules.values))

    def head(self, piece: Chain, m: int) -> Chain:
        return Chain(piece.start, piece.ops[:m], self.evaluate(piece.start, piece.ops[:m]))

    def tail(self, piece: Chain, m: int, start: int) -> Chain:
        return Chain(start, piece.ops[m:], self.evaluate(start, piece.ops[m:]))

    def item(self, piece: Chain, claim) -> Outcome:
        return Outcome(outcome_prompt(piece.start, piece.ops), f"{claim}{END}")
