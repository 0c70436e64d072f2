"""Which outcomes an ``rrm`` config section asks for: chains where the world has number chains (or
``rrm.outcomes: chains``), stretches of gold solutions otherwise (``rrm.outcomes: solutions``)."""

from __future__ import annotations

from .chains import ChainOutcomes
from .outcomes import Outcomes
from .stretches import SolutionStretches


def make_outcomes(r) -> Outcomes:
    """The outcomes ``r`` asks for (``r.outcome_kind``), of its levels' lengths."""
    world = r.world.make()
    if r.outcome_kind == "chains":
        return ChainOutcomes(world.chains(), r.steps_of(r.levels)[1])
    return SolutionStretches(world, r.distractors)
