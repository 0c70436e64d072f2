"""Outcomes on any world with text solutions and planted flaws: a stretch of a gold solution and its
claimed last step.

A piece is steps ``a..b-1`` of a problem's gold solution (the world's step spans), entered at step
``a-1`` as stated (the gold step, or what a helper said it is; nothing when ``a`` is 0). The claim
is what step ``b-1`` says, written as the world writes steps. A reward model reads the problem's
prompt, the entry step and the stretch's bounds, ``<prompt><entry>[a:b]``, then the claim: the
steps in between are hidden, as a chain's intermediate values are, so judging a long stretch means
doing its steps.

* Right claim: the gold step ``b-1``. Wrong claims: step ``b-1`` of flawed copies of the gold
  solution (``World.tamper``, every flaw kind in turn) where it differs from the gold step, at most
  ``distractors`` of them; a stretch where no flaw reaches its last step is not drawn.
* The user checks a claim as the world's checker does: the gold solution with step ``b-1`` replaced
  by the claim, and the checker's label of that step (``World.check``). The entry is the head's
  business: a wrong one makes the head's claim wrong, so the whole verdict is already a rejection.
* A helper states step ``m-1`` of a stretch split at ``m`` by choosing among the right step and the
  distractors there, which are all its options.

Stretches come from problems of the split asked for (``World.split_of``), so held-out stretches
come from held-out problems only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ...worlds.base import World
from .outcomes import END, Outcome, Outcomes


@dataclass(frozen=True)
class Stretch:
    """Steps ``a..b-1`` of ``problem``'s gold solution, entered at ``entry`` (step ``a-1`` as stated)."""

    problem: Any
    a: int
    b: int
    entry: str


class SolutionStretches(Outcomes):
    kind = "solutions"
    unit = "steps"

    def __init__(self, world: World, distractors: int):
        self.world, self.distractors = world, distractors
        self._wrong: dict[tuple[str, int], list[str]] = {}

    def wrong_steps(self, problem, i: int) -> list[str]:
        """Step ``i`` of flawed copies of the gold solution, where it differs from the gold step."""
        key = (problem.prompt, i)
        if key not in self._wrong:
            gold, kinds = self.world.gold_step(problem, i), self.world.flaw_kinds
            rng, out = random.Random(f"rrm-distractors:{problem.prompt}:{i}"), []
            for t in range(4 * self.distractors * len(kinds)):
                steps = self.world.step_texts(self.world.tamper(problem, kinds[t % len(kinds)], rng).text)
                if i < len(steps) and steps[i] != gold and steps[i] not in out:
                    out.append(steps[i])
                    if len(out) == self.distractors:
                        break
            self._wrong[key] = out
        return self._wrong[key]

    def pieces(self, lo, hi, seed, split, n, tag=None, distinct=False, judged=True) -> list[Stretch]:
        rng = random.Random(f"rrm-pieces:{seed}:{split}:{lo}:{hi}:{tag}")
        out, seen, longest = [], set(), 0
        for _ in range(max(2000, 200 * n)):
            p = self.world.draw(rng)
            longest = max(longest, p.n_steps)
            if p.n_steps < lo or self.world.split_of(p) != split:
                continue
            k = rng.randint(lo, min(hi, p.n_steps))
            a = rng.randint(0, p.n_steps - k)
            piece = Stretch(p, a, a + k, self.world.gold_step(p, a - 1) if a else "")
            if judged and not self.wrong_steps(p, a + k - 1):
                continue
            key = self.item(piece, "").prompt
            if distinct and key in seen:
                continue
            seen.add(key)
            out.append(piece)
            if len(out) == n:
                return out
        raise ValueError(
            f"rrm: world {self.world.name!r} gave only {len(out)} {split} stretches of {lo}-{hi} steps "
            f"(its problems had at most {longest}); ask for fewer or shorter ones (rrm.levels, "
            "rrm.checkable_steps), or raise the world's step knobs"
        )

    def length(self, piece: Stretch) -> int:
        return piece.b - piece.a

    def right_claim(self, piece: Stretch) -> str:
        return self.world.gold_step(piece.problem, piece.b - 1)

    def wrong_claim(self, piece: Stretch, rng: random.Random) -> str:
        return rng.choice(self.wrong_steps(piece.problem, piece.b - 1))

    def is_right(self, piece: Stretch, claim) -> bool:
        p, i = piece.problem, piece.b - 1
        start, end = self.world.steps(p.solution)[i]
        labels = self.world.check(p, p.solution[:start] + claim + p.solution[end:]).step_labels
        return i < len(labels) and bool(labels[i])

    def options(self, piece: Stretch) -> list[str]:
        return sorted({self.right_claim(piece), *self.wrong_steps(piece.problem, piece.b - 1)})

    def head(self, piece: Stretch, m: int) -> Stretch:
        return Stretch(piece.problem, piece.a, piece.a + m, piece.entry)

    def tail(self, piece: Stretch, m: int, start: str) -> Stretch:
        return Stretch(piece.problem, piece.a + m, piece.b, start)

    def item(self, piece: Stretch, claim) -> Outcome:
        return Outcome(f"{piece.problem.prompt}{piece.entry}[{piece.a}:{piece.b}]", f"{claim}{END}")
