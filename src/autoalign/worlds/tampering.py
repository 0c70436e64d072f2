"""Planted flaws in correct solutions, with the flawed step recorded (ground truth for overseers).

A tampered arithmetic solution changes one step's result by a little and carries the wrong value
forward consistently, so every later step is locally valid arithmetic on a wrong number: the kind
of plausible slip a verifier must catch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .arithmetic import ANSWER_MARK, STEP_SEP, Problem, apply_op


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


def tamper_operand(problem: Problem, rng: random.Random, modulus: int = 100) -> Tampered:
    """Copy a wrong operand into one step (another operand of the problem, or a neighbour), with
    the arithmetic done right on it and carried forward: the slip tiny generators make most."""
    i = rng.randrange(problem.n_steps)
    others = sorted({b for _, b in problem.ops} - {problem.ops[i][1]}) or [problem.ops[i][1] + 1]
    steps, value = [], problem.start
    for k, (op, b) in enumerate(problem.ops):
        if k == i:
            b = rng.choice(others + [max(1, b - 1), b + 1])
            if b == problem.ops[i][1]:
                b = b + 1
        r = apply_op(value, op, b, modulus)
        if r is None:
            r = value
        steps.append(f"{value}{op}{b}={r}")
        value = r
    return Tampered(STEP_SEP.join(steps + [f"{ANSWER_MARK}{value}"]), i)
