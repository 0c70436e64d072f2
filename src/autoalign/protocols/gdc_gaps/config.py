"""The GDC experiment's config sections: any registered world with text solutions and planted flaws."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...protocol import Section
from ...results import Estimate
from ...worlds.reference import WorldRef, require, world_ref

ModelSize = Literal["micro", "tiny", "small", "medium"]


class TaskMix(Section):
    """Relative weights of the three tasks in each training batch."""

    generation: float = Field(0.2, ge=0, description="Generation is learned early; it needs the least.")
    discrimination: float = Field(0.4, ge=0)
    critique: float = Field(0.4, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "TaskMix":
        if self.generation + self.discrimination + self.critique <= 0:
            raise ValueError("at least one task needs a positive weight")
        return self


class GdcConfig(Section):
    """Generator-discriminator-critique gaps across model sizes, critic catch rate and assistance."""

    world: WorldRef = Field(
        default_factory=lambda: world_ref("arithmetic", min_steps=1, max_steps=3, operators="+-"),
        description=(
            "The world the tasks come from, {name: <registered world>, ...its knobs}; it must have text "
            "solutions and planted flaws. Default: short arithmetic chains, where critiquing is learnable here."
        ),
    )
    sizes: list[str] = Field(
        ["micro", "tiny", "small"],
        min_length=1,
        description=(
            "One model per entry: a lab size (micro, tiny, small, medium; trained from scratch), or the address of a "
            "local checkpoint (hf/<folder>), fine-tuned on the three tasks with its own tokenizer."
        ),
    )
    checkpoint_lr: float = Field(1e-4, gt=0, description="Peak lr when fine-tuning a checkpoint (hf/ entries).")
    arch: Literal["llama", "gpt2"] = "llama"
    train_steps: int = Field(1500, ge=1, description="Optimizer steps, the same for every size.")
    batch_size: int = Field(64, ge=1)
    lr: dict[ModelSize, float] = Field(
        {"micro": 3e-3, "tiny": 3e-3, "small": 3e-3, "medium": 1e-3}, description="Peak lr per size."
    )
    mix: TaskMix = Field(default_factory=TaskMix)
    flaws: list[str] | None = Field(None, min_length=1, description="Flaw kinds to plant (default: all the world's).")
    max_new_tokens: int = Field(64, ge=1, description="Longest generated solution, in tokens.")
    test_problems: int = Field(300, ge=10)
    critic_size: str | None = Field(None, description="The critic for sweep/assistance (default: last entry).")
    critique_samples: int = Field(8, ge=1, description="K critiques sampled per item for the bonus sweep.")
    bonuses: list[float] = Field([-8, -4, -2, -1, 0, 1, 2, 4, 8], min_length=1, description="Bonus per flagged step.")
    rater_budget: int = Field(1, ge=1, description="Steps the rater model can check per solution.")
    rater_size: str | None = Field(None, description="The rater model (default: the first, weakest entry of sizes).")
    loss_per: Literal["token", "example"] = Field(
        "example",
        description=(
            "How the training loss averages: per example, so each task weighs what the mix says (a one-word "
            "verdict counts as much as a solution), or per token (a verdict is a few % of the signal)."
        ),
    )
    own_samples: int = Field(
        4,
        ge=0,
        description=("K solutions sampled per test problem on which G, D and C are measured together (0: skip)."),
    )
    own_train_steps: int = Field(
        500,
        ge=0,
        description=(
            "Phase 2: optimizer steps after the first train_steps in which a share of the discrimination and "
            "critique items are the model's own samples, labelled by the checker (0: planted flaws only)."
        ),
    )
    own_train_problems: int = Field(
        1500,
        ge=1,
        description=(
            "Training problems sampled own_samples times each for phase 2 (enough that each own sample is seen a few "
            "times, not memorised; the run reports the expected repeats)."
        ),
    )
    own_share: float = Field(0.5, ge=0, le=1, description="Share of phase-2 D and C items drawn from own samples.")
    own_control: bool = Field(
        False,
        description=(
            "Also train the critic's size own_train_steps more with no own samples (the control arm), measure it "
            "alike and report phase 2 - control paired per problem: what the own samples did, apart from more steps."
        ),
    )
    own_train_lr_scale: float = Field(
        0.1,
        gt=0,
        description=("Phase-2 peak lr as a share of the phase-1 peak lr (0.1: where phase 1's cosine schedule ended)."),
    )
    curve_every: int = Field(300, ge=0, description="Validation G, D and C every this many steps (0: no curve).")
    curve_problems: int = Field(60, ge=10, description="Validation problems per point of the learning curve.")
    adversarial_tries: int = Field(6, ge=1, description="Flaws tried per problem to find one the critic misses.")
    checkpoint_every: int = Field(100, ge=1)

    @field_validator("world")
    @classmethod
    def _world_can_be_critiqued(cls, world: WorldRef) -> WorldRef:
        require(world, "solutions", "GDC trains models to write, judge and critique its solutions")
        require(world, "flaws", "GDC's discrimination and critique items carry planted flaws")
        return world

    @field_validator("flaws")
    @classmethod
    def _flaws_of_the_world(cls, flaws: list[str] | None, info: ValidationInfo) -> list[str] | None:
        world = info.data.get("world")  # absent if the world itself was refused
        kinds = world.make().flaw_kinds if world is not None else ()
        bad = [f for f in (flaws or []) if world is not None and f not in kinds]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a flaw of world {world.name!r}; use {list(kinds)}")
        return flaws

    @model_validator(mode="after")
    def _check(self) -> "GdcConfig":
        sizes = ("micro", "tiny", "small", "medium")
        bad = [s for s in self.sizes if s not in sizes and "/" not in s]
        if bad:
            raise ValueError(f"sizes: {bad[0]!r} is neither a lab size ({', '.join(sizes)}) nor a model address")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError("sizes: entries must be distinct")
        missing = [s for s in self.sizes if s in sizes and s not in self.lr]
        if missing:
            raise ValueError(f"lr: no learning rate for size {missing[0]}")
        if self.critic_size is not None and self.critic_size not in self.sizes:
            raise ValueError("critic_size must be one of sizes")
        if self.rater_size is not None and self.rater_size not in self.sizes:
            raise ValueError("rater_size must be one of sizes")
        return self


class SizeResults(Section):
    """One model size: its three abilities and their gaps, on the same problems."""

    params: int
    generator: Estimate
    discriminator: Estimate
    critique: Estimate
    gd_gap: Estimate
    gc_gap: Estimate
    dc_gap: Estimate
    d_on_missed_flaws: Estimate | None
    critique_detects: Estimate | None = None
    dc_gap_detection: Estimate | None = None
    catch_rate: float
    hallucination_rate: float
    well_formed_critiques: float
    catch_rate_by_flaw: dict[str, float]
    own_samples: dict | None = None
    own_training: dict | None = None
    control: dict | None = None
    curve: list[dict] = Field(default_factory=list)


class GdcResults(Section):
    gdc: dict[str, SizeResults]
    critic: dict
    assistance: dict
