"""A stepwise file in someone else's formatting, made from the arithmetic world.

``autoalign train`` is for people with their own step labels, written their own way, so its tests
and README use data that is *not* autoalign's compact ``7+5=12;12*3=36;#36``: a worded prompt,
spaced steps, an answer sentence, and up to nine steps, every one labelled. About half of the
solutions carry a planted mistake (``worlds/tampering.py``): a wrong result carried forward (later
steps consistent with the wrong value) or a slip that the next step silently repairs. Labels follow
the usual convention: false from the first wrong step on, and the answer step labelled by whether
the final answer is right (so a repaired slip ends with a true answer label).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..runtime.store import atomic_write_text
from ..seeding import py_rng
from ..worlds import make_world
from ..worlds.arithmetic import ArithmeticConfig, Problem, check_solution, split_solution
from ..worlds.tampering import tamper_result, tamper_slip

_STEP = re.compile(r"^(\d+)([+\-*/])(\d+)=(\d+)$")
FLAWS = {"carried": tamper_result, "slip": tamper_slip}


def own_prompt(problem: Problem) -> str:
    expression = " ".join([str(problem.start)] + [f"{op} {b}" for op, b in problem.ops])
    return f"Compute {expression}, working from left to right."


def own_line(problem: Problem, compact: str) -> dict:
    """One stepwise line for ``compact`` (a solution in the world's format) in the other format."""
    steps, answer = split_solution(compact)
    verdict = check_solution(problem, compact)
    completions = []
    for s in steps:
        a, op, b, r = _STEP.match(s).groups()
        completions.append(f"{a} {op} {b} = {r}")
    completions.append(f"The answer is {answer}")
    first_wrong = next((i for i, ok in enumerate(verdict.step_labels) if not ok), len(steps))
    labels = [i < first_wrong for i in range(len(steps))] + [verdict.correct]
    return {"prompt": own_prompt(problem), "completions": completions, "labels": labels}


def own_format_lines(
    n: int, seed: int = 0, flawed_share: float = 0.5, min_steps: int = 2, max_steps: int = 8
) -> list[dict]:
    """``n`` stepwise lines from distinct training problems of the arithmetic world (``max_steps``
    operations plus the answer: up to nine steps)."""
    world = make_world("arithmetic", ArithmeticConfig(min_steps=min_steps, max_steps=max_steps, operators="+-*"))
    rng = py_rng(seed, "own-format-stepwise")
    lines = []
    for problem in world.problems(seed, "train", n):
        compact = problem.solution
        if rng.random() < flawed_share:
            kind = rng.choice(sorted(FLAWS))
            compact = FLAWS[kind](problem, rng).text
        lines.append(own_line(problem, compact))
    return lines


def write_own_format_stepwise(path: str | Path, n: int, seed: int = 0, **knobs) -> Path:
    """Write ``n`` own-format stepwise lines to ``path`` (see ``own_format_lines`` for the knobs)."""
    lines = own_format_lines(n, seed, **knobs)
    atomic_write_text(path, "".join(json.dumps(line) + "\n" for line in lines))
    return Path(path)
