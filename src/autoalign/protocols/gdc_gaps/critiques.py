"""GDC's critiques of one world's solutions: the critic's language with the world's corrections.

Why one place: a critique target (planted flaws in phase 1, own samples in phase 2) and a grade
must use the same rule, or the critic is trained on one language and graded on another. The
format is ``overseers/critic.py``'s ("step k wrong, should be X" or "no flaw"); what X is, and what
a well-formed X looks like, is the world's (``World.correction`` and ``correction_pattern``: the
step's value for arithmetic and countdown, by default the gold step as written). Protocol code
never parses a world's text.
"""

from __future__ import annotations

import numpy as np

from ...overseers.critic import Critique, CritiqueGrade, grade_critique, parse_critique, write_critique


def right_critique(world, problem, text: str, flawed_step: int | None) -> str:
    """What a right critic writes of ``text``: its first wrong step and that step's correction, or "no flaw"."""
    if flawed_step is None:
        return write_critique(None)
    return write_critique(flawed_step, world.correction(problem, text, flawed_step))


def read_critique(world, critique: object) -> Critique:
    """A model's critique, parsed with the world's correction pattern (never raises)."""
    return parse_critique(critique, world.correction_pattern)


def grade(world, problem, text: str, flawed_step: int | None, critique: object) -> CritiqueGrade:
    """Grade a critique of ``text`` (whose first wrong step is ``flawed_step``, None if sound)."""
    correction = None if flawed_step is None else world.correction(problem, text, flawed_step)
    return grade_critique(read_critique(world, critique), flawed_step, correction)


def detects(world, critiques: list[str], flawed) -> np.ndarray:
    """Per item, whether the critique's detection alone is right: any flagged step on a flawed item
    (named right or not), "no flaw" on a sound one."""
    return np.array([(read_critique(world, c).step is not None) == bool(f) for c, f in zip(critiques, flawed)])
