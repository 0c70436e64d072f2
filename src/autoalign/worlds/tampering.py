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
