"""Which outcomes an ``rrm`` config section asks for: chains where the world has number chains (or
``rrm.outcomes: chains``), stretches of gold solutions otherwise (``rrm.outcomes: solutions``), and
the labelled outcomes of each level and split."""

from __future__ import annotations

import random

from .chains import ChainOutcomes
from .outcomes import Outcomes, claims
from .stretches import SolutionStretches


def make_outcomes(r) -> Outcomes:
    """The outcomes ``r`` asks for (``r.outcome_kind``), of its levels' lengths."""
    world = r.world.make()
    if r.outcome_kind == "chains":
        return ChainOutcomes(world.chains(), r.steps_of(r.levels)[1])
    return SolutionStretches(world, r.distractors)


def outcomes(r, level: int, seed: int, split: str, n: int, source: Outcomes | None = None) -> list[tuple]:
    """(piece, claim, claim is right) of ``level``'s lengths: half right, half wrong. Training outcomes
    may repeat a piece; the long outcomes' held-out ones are distinct."""
    source = source or make_outcomes(r)
    lo, hi = r.steps_of(level)
    pieces = source.pieces(
        lo, hi, seed, split, n, tag=("outcomes", level), distinct=split != "overseer" and level == r.levels
    )
    return claims(source, pieces, random.Random(f"rrm-claims:{seed}:{level}:{split}"))
