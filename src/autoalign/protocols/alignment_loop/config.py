"""The ``alignment_loop`` config section: the reward model refreshed, the label budget, the arms."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ...optimization.sections import OverseerTraining, RLSection
from ...overseers.base import check_overseer_names
from ...protocol import Section

ARMS = ("refresh", "upfront", "frozen")


class AlignmentLoopConfig(Section):
    """Rounds of: sample the policy, label a few samples, refit the reward model, optimize against it."""

    reward: str = Field("prm", description="Registered overseer refit each round (prm, orm, a plugin's).")
    rounds: int = Field(3, ge=1)
    labels_per_round: int = Field(400, ge=1, description="Samples the checker (the human) labels per round.")
    pool_problems: int = Field(200, ge=1, description="Overseer-split problems the policy is sampled on per round.")
    pool_samples_per_problem: int = Field(4, ge=1)
    selection: Literal["convincing", "uniform"] = Field(
        "convincing",
        description="Which pool samples get labelled after round 0: those the current reward model rates "
        "highest (where a wrong answer it accepts hides), or a uniform draw.",
    )
    arms: list[Literal["refresh", "upfront", "frozen"]] = Field(
        default_factory=lambda: list(ARMS),
        description="refresh: labels spread over rounds, reward refit each round; upfront: the same labels "
        "all from the initial policy, fit once; frozen: one round's labels, fit once (same compute, fewer labels).",
    )
    calibration_problems: int = Field(
        100, ge=1, description="Initial-policy samples (labelled, counted) that set every arm's acceptance threshold."
    )
    calibration_samples_per_problem: int = Field(4, ge=1)
    accept_fpr: float = Field(0.05, gt=0, lt=1)
    overseer: OverseerTraining = Field(default_factory=OverseerTraining)
    rl: RLSection = Field(default_factory=lambda: RLSection(steps=40))
    test_problems: int = Field(200, ge=2)
    test_samples_per_problem: int = Field(4, ge=1)

    @field_validator("reward")
    @classmethod
    def _known(cls, name: str) -> str:
        check_overseer_names([name])
        return name

    @field_validator("arms")
    @classmethod
    def _arms(cls, names: list[str]) -> list[str]:
        if not names or len(set(names)) != len(names):
            raise ValueError("name each arm once, at least one")
        return names
