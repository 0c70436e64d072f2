"""The ``overoptimization`` config section: which rewards, which optimizers, how hard to push."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ...optimization.overseer_reward import CONTROLS, MAJORITY
from ...optimization.sections import ExpertIterationSection, OverseerTraining, RLSection
from ...overseers.base import check_overseer_names
from ...protocol import Section

METHODS = ("rloo", "expert_iteration")


class RewardTraining(OverseerTraining):
    """How each reward model is trained before the policy meets it (checker labels, counted)."""

    problems: int = Field(750, ge=1, description="Overseer-split problems sampled from the initial policy.")
    samples_per_problem: int = Field(8, ge=1)
    calibration_share: float = Field(
        0.2, gt=0, le=0.5, description="Share of the problems held out to calibrate the acceptance threshold."
    )


class OverOptimizationConfig(Section):
    """Optimize the generator against each reward and watch gold accuracy (the checker) as it moves."""

    rewards: list[str] = Field(
        default_factory=lambda: ["prm", "orm", MAJORITY],
        description="Registered overseers (prm, orm, a plugin's) and the controls: 'majority' (self-consistency, "
        "no labels), 'likelihood' (the initial policy's own log-probability: the floor for likelihood-based "
        "reward models) and 'oracle' (the checker itself on training prompts: the ceiling).",
    )
    methods: list[Literal["rloo", "expert_iteration"]] = Field(default_factory=lambda: list(METHODS))
    overseer: RewardTraining = Field(default_factory=RewardTraining)
    rl: RLSection = Field(default_factory=RLSection)
    expert_iteration: ExpertIterationSection = Field(default_factory=ExpertIterationSection)
    test_problems: int = Field(200, ge=2, description="Held-out problems every checkpoint is measured on.")
    test_samples_per_problem: int = Field(4, ge=1)
    accept_fpr: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="A reward accepts a sample at or above the threshold that accepts this share of the wrong "
        "samples of held-out calibration problems (the initial policy's); wrong-but-accepted counts against it.",
    )

    @field_validator("rewards")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        if not names:
            raise ValueError("name at least one reward")
        if len(set(names)) != len(names):
            raise ValueError("a reward is listed twice")
        check_overseer_names([n for n in names if n not in CONTROLS])
        return names

    @field_validator("methods")
    @classmethod
    def _methods(cls, names: list[str]) -> list[str]:
        if not names or len(set(names)) != len(names):
            raise ValueError("name each method once, at least one")
        return names
