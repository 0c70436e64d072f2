"""Planted flaws in correct solutions, with the flawed step recorded (ground truth for overseers).

Four kinds, each a plausible mistake: a result off by a little and carried forward consistently (every
later step is valid arithmetic on a wrong number), a slip that the next step silently repairs, a
wrong operator, and a wrong operand copied from the prompt. ``flawed_step`` is the first wrong step,
which is what the world's checker reports as ``first_error``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .chain_format import ANSWER_MARK, STEP_RE, STEP_SEP, apply_op, split_solution

if TYPE_CHECKING:  # annotations only: the world imports these flaws, never the other way round
    from .arithmetic import Problem


@dataclass(frozen=True)
class Tampered:
    text: str
    flawed_step: int


def tamper_result(problem: Problem, rng: random.Random, modulus: int = 100) -> Tampered:
    """Shift one step's result by 1 to 3 and recompute the rest from the wrong value."""
    i = rng.randrange(problem.n_steps)
    steps, value = [], None
    for k, (a, op, b, r) in enumerate(problem.steps):
        if value is not None:
            a = value
            r = apply_op(a, op, b, modulus)
            if r is None:  # a division no longer exact: the chain becomes invalid from here
                r = (a // b) if b else a
        if k == i:
            r = (r + rng.choice([-3, -2, -1, 1, 2, 3])) % modulus
        steps.append(f"{a}{op}{b}={r}")
        value = r if k >= i else None
    return Tampered(STEP_SEP.join(steps + [f"{ANSWER_MARK}{value}"]), i)


def _replay(problem: Problem, i: int, change, modulus: int) -> Tampered:
    """Redo the chain with step ``i``'s (op, operand) replaced by ``change(value, op, b)``, the
    arithmetic done right on it and carried forward."""
    steps, value = [], problem.start
    for k, (op, b) in enumerate(problem.ops):
        if k == i:
            op, b = change(value, op, b)
        r = apply_op(value, op, b, modulus)
        if r is None:
            r = value
        steps.append(f"{value}{op}{b}={r}")
        value = r
    return Tampered(STEP_SEP.join(steps + [f"{ANSWER_MARK}{value}"]), i)


def tamper_operand(problem: Problem, rng: random.Random, modulus: int = 100) -> Tampered:
    """Copy a wrong operand into one step (another operand of the problem, or a neighbour), with
    the arithmetic done right on it and carried forward: the slip tiny generators make most."""
    i = rng.randrange(problem.n_steps)
    others = sorted({b for _, b in problem.ops} - {problem.ops[i][1]}) or [problem.ops[i][1] + 1]

    def change(value: int, op: str, b: int) -> tuple[str, int]:
        wrong = rng.choice(others + [max(1, b - 1), b + 1])
        return op, (wrong + 1 if wrong == b else wrong)

    return _replay(problem, i, change, modulus)


def misread_operand(problem: Problem, i: int, modulus: int = 100) -> Tampered:
    """Step ``i``'s operand read one too high, the arithmetic done right on it and carried forward."""
    return _replay(problem, i, lambda value, op, b: (op, b + 1), modulus)


def tamper_slip(problem: Problem, rng: random.Random, modulus: int = 100) -> Tampered:
    """Shift one step's result by 1 to 3 but continue from the right value: an inconsistent chain."""
    i = rng.randrange(problem.n_steps)
    steps = []
    for k, (a, op, b, r) in enumerate(problem.steps):
        if k == i:
            r = (r + rng.choice([-3, -2, -1, 1, 2, 3])) % modulus
        steps.append(f"{a}{op}{b}={r}")
    # A slip in the last step reaches the answer; earlier ones are silently repaired.
    answer = int(steps[-1].rsplit("=", 1)[1]) if i == problem.n_steps - 1 else problem.answer
    return Tampered(STEP_SEP.join(steps + [f"{ANSWER_MARK}{answer}"]), i)


def tamper_operator(problem: Problem, rng: random.Random, modulus: int = 100) -> Tampered:
    """Apply a different operator in one step (the arithmetic right for it), carried forward."""
    i = rng.randrange(problem.n_steps)

    def change(value: int, op: str, b: int) -> tuple[str, int]:
        return rng.choice([o for o in "+-*" if o != op and apply_op(value, o, b, modulus) is not None]), b

    return _replay(problem, i, change, modulus)


FLAWS = {"carried": tamper_result, "slip": tamper_slip, "operator": tamper_operator, "operand": tamper_operand}


def tamper(problem: Problem, kind: str, rng: random.Random, modulus: int = 100) -> Tampered:
    """A flawed copy of ``problem``'s gold solution; ``kind`` is one of :data:`FLAWS`."""
    return FLAWS[kind](problem, rng, modulus)


def locally_invalid_steps(problem: Problem, text: str, modulus: int = 100) -> list[int]:
    """Steps a careful reader would flag by checking that step alone: it does not continue from the
    previous written result (or the prompt's first number), does not apply the prompt's operation,
    or gets the arithmetic wrong. A wrong value carried forward is invalid only where it starts."""
    steps, _ = split_solution(text)
    bad, previous = [], problem.start
    for j, s in enumerate(steps):
        m = STEP_RE.match(s)
        if m is None or j >= problem.n_steps:
            bad.append(j)
            previous = None
            continue
        a, op, b, r = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        if a != previous or (op, b) != problem.ops[j] or apply_op(a, op, b, modulus) != r:
            bad.append(j)
        previous = r
    return bad
