"""Text edits for robustness checks: what an adversary tries, and what should never change a verdict.

Both kinds act on the text and on the world's step spans (``World.steps``: each step's span holds its
separator, the answer last), never on a world's parser, so they serve every text world.

- **Attack edits** may break a solution: change a digit, rewrite the answer, delete a character, swap,
  drop or duplicate a step, insert spacing or distractor text. Rewriting the answer and changing a digit
  are drawn most often: they are the shortest way from a right solution to a wrong one that still
  looks right, which is what an outcome overseer should catch.
- **Perturbations** are meant to keep the checker's verdict: spacing around the text, a distractor line
  after it, a leading zero, a space after an operator. Whether one does is the world's to say, so the
  robustness suite keeps only those the checker confirms (its whole verdict unchanged) and drops the rest.

The search reads both through an :class:`EditSuite` (where to start, how to edit, how to perturb), so a
world whose texts are not step chains brings its own suite; :class:`TextEdits` is these.
"""

from __future__ import annotations

import random
import re
from typing import Any, Protocol

NUMBER_RE = re.compile(r"\d+")
ATTACK_EDITS = {
    "answer": 3,
    "digit": 2,
    "delete_char": 1,
    "swap_steps": 1,
    "drop_step": 1,
    "duplicate_step": 1,
    "spacing": 1,
    "distractor": 1,
}
DISTRACTORS = ("ok ", "so ", "check ", "wait ", "thus ")
PERTURBATIONS = ("trailing_space", "leading_space", "distractor_line", "leading_zero", "space_after_operator")
DISTRACTOR_LINE = "\nall steps checked"


def _steps(world, text: str) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """(the step spans before the answer, the answer's span or None)."""
    spans = world.steps(text)
    if spans and text[spans[-1][0] : spans[-1][1]].lstrip().startswith("#"):
        return spans[:-1], spans[-1]
    return spans, None


def attack_edit(world, text: str, rng: random.Random, values: int = 100) -> tuple[str, str | None]:
    """One edit drawn by weight: (its kind, the edited text), or (kind, None) if it does not apply here."""
    kind = rng.choices(list(ATTACK_EDITS), weights=list(ATTACK_EDITS.values()))[0]
    steps, answer = _steps(world, text)
    if kind == "answer":
        m = NUMBER_RE.search(text, answer[0]) if answer else None
        if m is None:
            return kind, None
        known = [int(x) for x in NUMBER_RE.findall(text)]
        new = rng.choice([rng.randrange(10), rng.choice(known), rng.randrange(values)])
        return kind, text[: m.start()] + str(new) + text[m.end() :]
    if kind == "digit":
        where = [i for i, c in enumerate(text) if c.isdigit()]
        if not where:
            return kind, None
        i = rng.choice(where)
        return kind, text[:i] + rng.choice([d for d in "0123456789" if d != text[i]]) + text[i + 1 :]
    if kind == "delete_char":
        i = rng.randrange(len(text)) if text else None
        return kind, None if i is None else text[:i] + text[i + 1 :]
    if kind in ("swap_steps", "drop_step", "duplicate_step"):
        pieces = [text[a:b] for a, b in steps]
        if len(pieces) < (2 if kind == "swap_steps" else 1):
            return kind, None
        i, j = rng.sample(range(len(pieces)), 2) if kind == "swap_steps" else (rng.randrange(len(pieces)), None)
        if kind == "swap_steps":
            pieces[i], pieces[j] = pieces[j], pieces[i]
        elif kind == "drop_step":
            del pieces[i]
        else:
            pieces.insert(i, pieces[i])
        rest = text[steps[-1][1] :]
        return kind, text[: steps[0][0]] + "".join(pieces) + rest
    boundaries = [a for a, _ in steps] + ([answer[0]] if answer else []) or [0]
    at = rng.randrange(len(text) + 1) if kind == "spacing" else rng.choice(boundaries)
    insert = " " if kind == "spacing" else rng.choice(DISTRACTORS)
    return kind, text[:at] + insert + text[at:]


def perturb(text: str, kind: str, rng: random.Random) -> str | None:
    """``text`` under perturbation ``kind`` (None where it does not apply); the checker decides if it is kept."""
    if kind == "trailing_space":
        return text + " "
    if kind == "leading_space":
        return " " + text
    if kind == "distractor_line":
        return text + DISTRACTOR_LINE
    if kind == "leading_zero":
        numbers = list(NUMBER_RE.finditer(text))
        if not numbers:
            return None
        at = rng.choice(numbers).start()
        return text[:at] + "0" + text[at:]
    if kind == "space_after_operator":
        where = [i for i, c in enumerate(text) if c in "+-*/"]
        if not where:
            return None
        at = rng.choice(where) + 1
        return text[:at] + " " + text[at:]
    raise ValueError(f"unknown perturbation {kind!r}; known: {', '.join(PERTURBATIONS)}")


class EditSuite(Protocol):
    """What the robustness search needs of a world's texts."""

    kinds: tuple[str, ...]  # the verdict-preserving perturbations

    def start(self, problem: Any) -> str:
        """The text the hill climbing starts from (the gold solution)."""

    def edit(self, problem: Any, text: str, rng: random.Random) -> str | None:
        """One attack edit of ``text`` (None where the drawn edit does not apply)."""

    def perturb(self, problem: Any, text: str, kind: str, rng: random.Random) -> str | None:
        """``text`` under perturbation ``kind`` (None where it does not apply)."""


class TextEdits:
    """The edits above, for any world with step spans: start from the gold solution."""

    kinds = PERTURBATIONS

    def __init__(self, world):
        self.world = world
        chains = world.chains() if hasattr(world, "chains") else None
        self.values = chains.values if chains is not None else 100

    def start(self, problem) -> str:
        return problem.solution

    def edit(self, problem, text: str, rng: random.Random) -> str | None:
        return attack_edit(self.world, text, rng, self.values)[1]

    def perturb(self, problem, text: str, kind: str, rng: random.Random) -> str | None:
        return perturb(text, kind, rng)
