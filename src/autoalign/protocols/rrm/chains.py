"""The outcomes RRM judges, where they come from, the simulated user, and assisted evaluation.

An outcome is a chain of operations evaluated left to right and a claimed result, written
``7+5-3-2+8=15``. Two sources (``rrm.world``):

* ``arithmetic``: the arithmetic-chains world (``worlds/arithmetic.py``): a one-digit start, then
  ``+``/``-`` (by default) with one-digit operands, every value in [0, 100).
* ``countdown``: a countdown solution (``worlds/countdown.py``) in left-to-right form: the given
  numbers (one to nine), each used once, combined in order with ``+ - * /`` under countdown's rules
  (natural numbers only, division only when exact), every intermediate value in 1..99; the claim is
  the value the solution reaches. ``5*3+7+2=24`` uses the numbers 5, 3, 7, 2. Countdown solutions
  that combine two intermediate results (``(5*3)+(7*2)``) are not drawn: a left-to-right solution
  splits at any operation into a first part whose value a helper can state and a rest that starts
  from that value, exactly as an arithmetic chain does.

Half the claims are true, half off by 1 to 9 (mod 100).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ...worlds.arithmetic import ArithmeticConfig, ArithmeticWorld, apply_op
from ...worlds.base import World
from ...worlds.countdown import countdown_op

MODULUS = 100
ANSWERS = list(range(MODULUS))
WORLDS = ("arithmetic", "countdown")


@dataclass(frozen=True)
class Chain:
    """A left-to-right chain: ``start`` then ``ops`` ((operator, operand), ...) and its true value."""

    start: int
    ops: tuple[tuple[str, int], ...]
    answer: int

    @property
    def prompt(self) -> str:
        return outcome_prompt(self.start, self.ops)


def outcome_prompt(start: int, ops) -> str:
    return f"{start}" + "".join(f"{op}{b}" for op, b in ops) + "="


def outcome_text(start: int, ops, claim: int) -> str:
    return outcome_prompt(start, ops) + f"{claim}"


def evaluate(start: int, ops, world: str = "arithmetic") -> int | None:
    """The chain's value; None where a countdown operation is not allowed (negative, inexact)."""
    value: int | None = start
    for op, b in ops:
        if value is None:
            return None
        value = apply_op(value, op, b, MODULUS) if world == "arithmetic" else countdown_op(value, op, b)
    return value


class CountdownChains(World):
    """Left-to-right countdown solutions of ``min_steps..max_steps`` operations (see the module
    docstring), as a World so that splits and distinct draws work as everywhere else."""

    name = "rrm_countdown"

    def __init__(self, min_steps: int, max_steps: int, operators: str, max_number: int):
        self.min_steps, self.max_steps, self.operators, self.max_number = min_steps, max_steps, operators, max_number

    def draw(self, rng: random.Random) -> Chain:
        n = rng.randint(self.min_steps, self.max_steps)
        while True:
            numbers = [rng.randint(1, self.max_number) for _ in range(n + 1)]
            value, ops = numbers[0], []
            for b in numbers[1:]:
                allowed = {op: r for op in self.operators if (r := countdown_op(value, op, b)) is not None and 1 <= r < MODULUS}
                if not allowed:
                    break
                op = rng.choice(sorted(allowed))  # the operator first, so that rare-but-valid ones keep their share
                ops.append((op, b))
                value = allowed[op]
            if len(ops) == n:
                return Chain(numbers[0], tuple(ops), value)

    def check(self, problem, text):  # pragma: no cover - RRM judges outcomes, not written solutions
        raise NotImplementedError


def chain_world(world: str, min_steps: int, max_steps: int, operators: str, max_operand: int) -> World:
    if world == "arithmetic":
        return ArithmeticWorld(ArithmeticConfig(min_steps=min_steps, max_steps=max_steps, operators=operators,
                                                max_operand=max_operand, modulus=MODULUS))
    return CountdownChains(min_steps, max_steps, operators, max_operand)


def pieces(r, lo: int, hi: int, seed: int, split: str, n: int, tag=None, distinct: bool = False) -> list[Chain]:
    """``n`` chains of ``lo..hi`` operations, each a window of a chain drawn from the world (of
    ``lo`` up to the longest level's operations), so that a chain starts at any value a chain
    passes through, as the pieces of assisted evaluation do (``57+3-2``), not only at a given
    number. A window's split is its own (hash of its text), so held-out windows never appear in
    training or pretraining."""
    source = chain_world(r.world, lo, max(hi, r.steps_of(r.levels)[1]), r.chain_operators, r.max_operand)
    rng = random.Random(f"rrm-pieces:{seed}:{split}:{lo}:{hi}:{tag}")
    out, seen = [], set()
    for _ in range(max(2000, 200 * n)):
        c = source.draw(rng)
        k = rng.randint(lo, min(hi, len(c.ops)))
        cut = rng.randint(0, len(c.ops) - k)
        start = evaluate(c.start, c.ops[:cut], r.world)
        piece = Chain(start, tuple(c.ops[cut: cut + k]), evaluate(start, c.ops[cut: cut + k], r.world))
        if source.split_of(piece) != split or (distinct and piece.prompt in seen):
            continue
        seen.add(piece.prompt)
        out.append(piece)
        if len(out) == n:
            return out
    raise ValueError(f"rrm: found only {len(out)} {split} chains of {lo}-{hi} operations; ask for fewer")


def claims(chains: list, rng: random.Random) -> list[tuple[object, int, bool]]:
    """(chain, claim, claim is true): half true, half off by 1..9 (mod 100)."""
    out = []
    for p in chains:
        true = rng.random() < 0.5
        claim = p.answer if true else (p.answer + rng.choice([-1, 1]) * rng.randint(1, 9)) % MODULUS
        out.append((p, claim, true))
    return out


# -- the user ------------------------------------------------------------------------------------
def user_checks(start: int, ops, claim: int, world: str = "arithmetic") -> bool:
    """The user's own check of a short chain: exact."""
    return evaluate(start, ops, world) == claim


def user_unassisted(truth: list[bool], agreement: float, rng: random.Random) -> list[bool]:
    """The user's judgment of long chains they cannot check: right with probability ``agreement``."""
    return [t if rng.random() < agreement else not t for t in truth]


# -- assisted evaluation -------------------------------------------------------------------------
def assisted_verdicts(r, value_of: Callable[[int, list], list[int]], items: list[tuple[int, tuple, int]],
                      stats: dict) -> list[bool]:
    """Judge (start, ops, claim) items: short ones (at most ``r.checkable_steps`` operations) by the
    user; longer ones split in two at the value ``value_of(level, first halves)`` states (the
    assistant of the first half's level), each half judged the same way. A chain of exact checks
    from the start to the claim proves the claim, so a false claim is never accepted."""
    verdicts: list[bool | None] = [None] * len(items)
    long = [i for i, (s, ops, c) in enumerate(items) if len(ops) > r.checkable_steps]
    for i, (s, ops, c) in enumerate(items):
        if len(ops) <= r.checkable_steps:
            verdicts[i] = user_checks(s, ops, c, r.world)
            stats["user_checks"] = stats.get("user_checks", 0) + 1
    mids: dict[int, int] = {}
    by_level: dict[int, list[int]] = {}
    for i in long:
        by_level.setdefault(r.level_of(len(items[i][1]) // 2), []).append(i)
    for level, idx in by_level.items():
        firsts = [(items[i][0], items[i][1][: len(items[i][1]) // 2]) for i in idx]
        values = value_of(level, firsts)
        for i, (s, half), v in zip(idx, firsts, values):
            mids[i] = v
            stats.setdefault(f"assistant_level{level}", []).append(v == evaluate(s, half, r.world))
    firsts = [(items[i][0], items[i][1][: len(items[i][1]) // 2], mids[i]) for i in long]
    seconds = [(mids[i], items[i][1][len(items[i][1]) // 2:], items[i][2]) for i in long]
    if long:
        halves = assisted_verdicts(r, value_of, firsts + seconds, stats)
        for j, i in enumerate(long):
            verdicts[i] = halves[j] and halves[len(long) + j]
    return verdicts
