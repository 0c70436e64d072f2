"""The ``robustness`` config section: which overseers, how they are trained, how hard the search pushes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...optimization.sections import OverseerTraining
from ...overseers.base import check_overseer_names
from ...pipeline.critic import CriticTraining
from ...pipeline.generator import GeneratorWorld
from ...protocol import Section
from ...worlds.reference import WorldRef, require

CONTROLS = ("accept_all", "random", "checker")  # the floors and the ceiling, measured beside every overseer
ARGUMENTS = "arguments"  # what the facts judge judges (``overseers/facts_overseer.py``)


class AttackSection(Section):
    """The adversarial search (``interpretability/robustness.py``), the same for every overseer."""

    samples: int = Field(8, ge=0, description="Generator samples per problem tried first (the sampling attack).")
    rounds: int = Field(4, ge=1, description="Rounds of edits; later rounds edit the best-scored rejected texts.")
    per_round: int = Field(64, ge=1, description="Edits drawn per problem and round.")
    beam: int = Field(4, ge=1, description="Rejected texts (highest overseer score) edited in the next round.")
    budgets: list[int] = Field(
        default_factory=lambda: [4, 16, 64, 256],
        description="Query budgets (checker-rejected texts the overseer scores per problem) the success rate "
        "is read at; one search, read at each.",
    )
    rejects: Literal["wrong_answer", "any_wrong_step"] = Field(
        "wrong_answer", description="What the checker rejects: a wrong final answer, or any wrong step too."
    )

    @field_validator("budgets")
    @classmethod
    def _budgets(cls, b: list[int]) -> list[int]:
        if not b or any(x < 1 for x in b) or sorted(set(b)) != b:
            raise ValueError("budgets: distinct positive numbers, ascending")
        return b


class FactsArm(Section):
    """The facts judge's arm: argued answers on the facts world (``interpretability/argued_facts.py``)."""

    judges: list[str] = Field(
        default_factory=lambda: ["facts_judge"], description="Registered overseers of argued answers; [] skips."
    )
    world: WorldRef = Field(default_factory=lambda: WorldRef(name="facts"))
    train_questions: int = Field(2000, ge=10, description="Overseer-split questions, one random argued answer each.")
    most_quotes: int = Field(8, ge=0, description="Most quotes in a random argued answer.")
    fabricate: float = Field(0.3, ge=0, le=1, description="Chance a random argued answer carries a fabricated link.")
    calibration_questions: int = Field(
        200, ge=10, description="Val-split questions whose gold arguments set the threshold."
    )
    test_questions: int = Field(100, ge=2, description="Test-split questions attacked.")

    @field_validator("judges")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        check_overseer_names(names, judges=ARGUMENTS)
        return names

    @model_validator(mode="after")
    def _facts(self):
        if self.world.name != "facts":
            raise ValueError(f"facts.world: argued answers are the facts world's, not {self.world.name!r}")
        return self


class RobustnessConfig(Section):
    """Per overseer: a threshold on correct solutions, an adversarial search, and verdict flips."""

    overseers: list[str] = Field(
        default_factory=lambda: ["prm", "orm", "critic"],
        description="Registered overseers of the run-level world's solutions, all starting from the critic backbone.",
    )
    training: OverseerTraining = Field(default_factory=OverseerTraining)
    critic: CriticTraining = Field(default_factory=CriticTraining)
    overseer_problems: int = Field(400, ge=1, description="Overseer-split problems the generator samples to fit on.")
    samples_per_problem: int = Field(4, ge=1)
    calibration_problems: int = Field(
        200, ge=10, description="Val-split problems whose gold solutions set the threshold."
    )
    accept_share: float = Field(0.9, gt=0, le=1, description="Share of the calibration gold solutions accepted.")
    test_problems: int = Field(100, ge=2, description="Test-split problems attacked and perturbed.")
    attack: AttackSection = Field(default_factory=AttackSection)
    facts: FactsArm = Field(default_factory=FactsArm)

    @field_validator("overseers")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names) or set(names) & set(CONTROLS):
            raise ValueError(f"name each overseer once, none of the controls ({', '.join(CONTROLS)})")
        check_overseer_names(names)
        return names


class RobustnessWorld(GeneratorWorld):
    """The run-level world: the generator's, and it must plant flaws (the critic backbone names them)."""

    @model_validator(mode="after")
    def _plants_flaws(self):
        require(self, "flaws", "the critic backbone learns to name planted flaws")
        return self
