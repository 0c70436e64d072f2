"""The best-of-N experiment's config sections.

Worlds are named, never listed: ``worlds`` takes any registered world with text solutions, each as
``{name, ...knobs}``. The run-level ``world:`` section is the generator protocol's world; an entry
of ``worlds`` with that world's name *is* that world (so the two protocols share one generator),
and its knobs are set there. Overseers beyond the built-in verifiers are named in ``overseers``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...overseers.base import check_overseer_names
from ...pipeline.generator import GeneratorResults
from ...protocol import Section
from ...results import Estimate
from ...stepwise import DEFAULT_SEPARATOR
from ...worlds.reference import WorldRef, require, world_ref
from .ablation import VERIFIERS

# What best-of-N compares besides the verifiers: a listed overseer may not take one of these names.
BUILT_IN_SCORERS = {s.name for s in VERIFIERS} | {
    "loglik",
    "majority",
    "weighted_vote",
    "pass_at_n",
    "diff",
    "ablation",
}


class VerifierConfig(Section):
    """ORM and PRM training: fine-tuned from the generator's weights, keeping its LM head."""

    steps: int = Field(150, ge=1, description="Optimizer steps per verifier.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0, description="Backbone learning rate.")
    head_lr: float = Field(1e-2, gt=0, description="Learning rate of the head (scale and bias).")
    aggregate: Literal["product", "min"] = Field("product", description="PRM solution score.")
    weak_baseline: bool = Field(True, description="Also train fresh linear-head verifiers: weaker than the generator.")
    ablation: bool = Field(
        True,
        description=(
            "Also train the labels x aggregation ablation's two missing cells (prm_cumulative: process labels on the "
            "cumulative head; orm_per_step: outcome labels on the per-step head), an ORM with a linear head at the "
            "last token (orm_last_token) and the same head on a frozen backbone (orm_frozen)."
        ),
    )
    data: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "World name (one of best_of_n.worlds) -> a stepwise JSONL (TRL format) to train the verifiers on instead of "
            "the generator's samples."
        ),
    )
    separator: str = Field(
        DEFAULT_SEPARATOR,
        min_length=1,
        description=(
            "How a data file's completions join into one solution (TRL's step_separator); the world must find exactly "
            "those steps in the joined text."
        ),
    )


class ActiveLearningConfig(Section):
    """Which samples to label: convincing wrong answers (high PRM score, wrong answer) vs uniform."""

    enabled: bool = True
    world: str | None = Field(None, description="The world (a name in best_of_n.worlds) to study; default: the first.")
    budgets: list[int] = Field(
        [250, 500, 1000, 2000],
        min_length=2,
        description=("Active labels, ascending; the first is the seed set that trains the selector."),
    )
    uniform_budgets: list[int] | None = Field(
        None,
        min_length=1,
        description=(
            "Uniform budgets beyond the active ones (every active budget is on the uniform curve too); they must "
            "reach past the largest active budget, or the data-efficiency factor cannot exceed 1x. "
            "Default: 4x the largest active budget."
        ),
    )
    steps: int = Field(60, ge=1, description="Optimizer steps per PRM, the same at every budget.")
    convincing_fraction: float = Field(0.8, ge=0, le=1, description="Share chosen actively.")

    @model_validator(mode="after")
    def _reach(self) -> "ActiveLearningConfig":
        if any(x < 1 for x in self.budgets + (self.uniform_budgets or [])):
            raise ValueError("budgets are numbers of labels, at least 1")
        if self.uniform_budgets is not None and max(self.uniform_budgets) <= max(self.budgets):
            raise ValueError(
                "uniform_budgets must reach past the largest active budget, or active labels can "
                "never look more than 1x as efficient"
            )
        return self


class BestOfNConfig(Section):
    """Best-of-N reranking with ORM, PRM, voting and likelihood on held-out problems."""

    worlds: list[WorldRef] = Field(
        default_factory=lambda: [world_ref("arithmetic"), world_ref("countdown")],
        min_length=1,
        description=(
            "Worlds to rerank on, each {name: <registered world>, ...knobs} or a bare name; results are keyed by name. "
            "An entry naming the run-level `world` section's world is that section (set its knobs there), so the "
            "generator protocol and best-of-N share one generator."
        ),
    )
    overseers: list[str] = Field(
        default_factory=list,
        description=(
            "Registered overseers (autoalign.registry.overseers, judging solutions) compared beside the built-in "
            "verifiers: each is built on a copy of the verifiers' backbone, fit on the same labelled samples and "
            "scored on the same test pools."
        ),
    )
    train_problems: int = Field(1000, ge=1, description="Problems whose samples train verifiers.")
    train_samples_per_problem: int = Field(8, ge=1)
    test_problems: int = Field(150, ge=1)
    pool_size: int = Field(80, ge=1, description="Samples per test problem; subsets are drawn from it.")
    n_values: list[int] = Field([1, 2, 4, 8, 16, 32, 64], min_length=1)
    subsets: int = Field(200, ge=1, description="Random subsets per N and problem.")
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    backbone: str | None = Field(
        None,
        description=(
            "Address of the local model (hf/<folder>, lab/<folder>) the PRM and ORM are fine-tuned from and whose "
            "likelihood is the floor; default: the generator. Needed when the generator is served (openai/...)."
        ),
    )
    active_learning: ActiveLearningConfig = Field(default_factory=ActiveLearningConfig)

    @field_validator("worlds")
    @classmethod
    def _worlds(cls, worlds: list[WorldRef]) -> list[WorldRef]:
        names = [w.name for w in worlds]
        for w in worlds:
            require(w, "solutions", "best-of-N samples, checks and reranks written solutions")
            if names.count(w.name) > 1:
                raise ValueError(f"world {w.name!r} is listed twice; results are keyed by world name")
        return worlds

    @field_validator("overseers")
    @classmethod
    def _overseers(cls, names: list[str]) -> list[str]:
        for name in names:
            if name in BUILT_IN_SCORERS:
                raise ValueError(f"{name!r} is compared anyway (a built-in scorer); list other overseers")
        if len(set(names)) < len(names):
            raise ValueError("an overseer is listed twice")
        check_overseer_names(names, "solutions")
        return names

    @field_validator("verifier")
    @classmethod
    def _data_worlds(cls, v: VerifierConfig, info: ValidationInfo) -> VerifierConfig:
        names = [w.name for w in info.data.get("worlds", [])]
        for name in v.data:
            if names and name not in names:
                raise ValueError(f"data: {name!r} is not one of best_of_n.worlds ({', '.join(names)})")
        if v.data and info.data.get("overseers"):
            raise ValueError(
                "data: the overseers in best_of_n.overseers learn from the generator's checked samples; "
                "a data file replaces them for the built-in verifiers only: drop one of the two"
            )
        return v

    @field_validator("active_learning")
    @classmethod
    def _al_world(cls, al: ActiveLearningConfig, info: ValidationInfo) -> ActiveLearningConfig:
        names = [w.name for w in info.data.get("worlds", [])]
        if al.enabled and al.world is not None and names and al.world not in names:
            raise ValueError(f"world: {al.world!r} is not one of best_of_n.worlds ({', '.join(names)})")
        return al

    @model_validator(mode="after")
    def _check(self) -> "BestOfNConfig":
        if max(self.n_values) > self.pool_size:
            raise ValueError("every N must be <= pool_size")
        return self

    @property
    def active_learning_world(self) -> str:
        return self.active_learning.world or self.worlds[0].name


class WorldCurves(Section):
    """One world's best-of-N curves: method -> N -> estimate, and paired differences."""

    model_config = Section.model_config | {"extra": "allow"}
    __pydantic_extra__: dict[str, dict[str, Estimate]]
    diff: dict[str, dict[str, Estimate]]
    ablation: dict[str, dict[str, Estimate]] | None = Field(
        None,
        description=(
            "The labels x aggregation 2x2: each cell, the main effects (labels, aggregation) and the interaction, "
            "-> N -> estimate with a paired CI over problems."
        ),
    )


class BestOfNResults(Section):
    """What best-of-N writes, per world: curves, AUROCs, and the generator's accuracy."""

    generator: GeneratorResults | None = None
    best_of_n: dict[str, WorldCurves]
    verifier_auroc: dict[str, dict[str, Estimate]]
    verifier_auroc_within: dict[str, dict[str, Estimate]] | None = Field(
        None,
        description=(
            "Per world and scorer, the mean over problems of the AUROC within each problem's pool (CI over problems)."
        ),
    )
    generator_sample_accuracy: dict[str, float]
    active_learning: dict | None = None
