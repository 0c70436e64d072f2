"""The ``rrm`` config section and the results it writes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...models import SIZES
from ...optimization.sections import RLSection
from ...protocol import Section
from ...results import Estimate
from ...worlds.reference import WorldRef, require, world_ref

LONGEST = 8  # steps in the longest outcome any level holds
Noise = Literal["symmetric", "rejects_right", "accepts_wrong"]


class NoiseSetting(Section):
    """One unassisted user: where their errors on long outcomes fall, and how often they agree with
    the truth. Named ``<noise>_<agreement in %>`` (``symmetric_70``) in results and endpoints."""

    user_noise: Noise = Field(description="As rrm.user_noise.")
    user_agreement: float = Field(ge=0.5, le=1, description="As rrm.user_agreement.")

    @property
    def name(self) -> str:
        return f"{self.user_noise}_{round(100 * self.user_agreement)}"


class AgentRL(RLSection):
    """RLOO for each level's agent against that level's reward model (``agents.py``). Rewards (P(right),
    in 0..1) are z-scored per batch, so ``kl_coef`` weighs KL against a reward of unit spread."""

    steps: int = Field(100, ge=1, description="Policy-gradient steps per agent.")
    kl_coef: float = Field(0.05, ge=0, description="Weight of the sequence-level KL penalty to the untrained agent.")
    measure_every: int = Field(25, ge=1, description="Steps between measurements on held-out pieces.")
    standardize: bool = Field(True, description="z-score each batch's rewards before the KL penalty.")


class RRMConfig(Section):
    """Recursive reward modeling on any registered world, against unassisted and ground-truth labels."""

    outcomes: Literal["chains", "solutions"] | None = Field(
        None,
        description=(
            "chains: a chain from any value and its claimed value (worlds whose problems are number chains); "
            "solutions: a stretch of a gold solution and its claimed last step (any world with text solutions and "
            "planted flaws). Default: chains where the world has them."
        ),
    )
    world: WorldRef = Field(
        default_factory=lambda: world_ref("arithmetic", operators="+-"),
        description=(
            "Where the outcomes come from, {name: <registered world>, ...its knobs}. Number-chain worlds "
            "(arithmetic, countdown) give chains; RRM sets their lengths per level, so their step-count "
            "knobs are not used. Other worlds need text solutions and planted flaws."
        ),
    )
    checkable_steps: int = Field(2, ge=1, description="Longest piece the user checks exactly, in steps.")
    levels: int = Field(3, ge=2, le=4, description="Levels; the last holds the long outcomes measured.")
    user_agreement: float = Field(
        0.7, ge=0.5, le=1, description="Unassisted user's agreement with the truth on long outcomes."
    )
    user_noise: Noise = Field(
        "symmetric",
        description=(
            "Where the unassisted user's errors fall: symmetric (either way), rejects_right (only right claims "
            "misjudged: one-sided, like assisted evaluation's errors) or accepts_wrong (only wrong claims, accepted)."
        ),
    )
    noise_sweep: list[NoiseSetting] = Field(
        default_factory=list,
        description=(
            "More unassisted users, each a {user_noise, user_agreement}: a long-outcome reward model is trained on "
            "each one's labels and compared with the same recursive and ceiling reward models on the same held-out "
            "outcomes (results: rrm.noise_sweep.<noise>_<agreement %>). Empty: only rrm.user_noise/user_agreement."
        ),
    )
    agents: Literal["argmax", "trained"] = Field(
        "argmax",
        description=(
            "Who assists the user: argmax, the option a lower level's reward model rates highest; trained, a policy "
            "optimized with RLOO against that reward model (rrm.agent), which states what it writes."
        ),
    )
    agent: AgentRL = Field(default_factory=AgentRL, description="RLOO knobs of the trained agents.")
    distractors: int = Field(
        9,
        ge=1,
        le=99,
        description=(
            "solutions only: the most wrong steps (planted flaws) a stretch's claim and a helper's options include."
        ),
    )
    train_outcomes: int = Field(2000, ge=10, description="Outcomes labelled per reward model.")
    test_outcomes: int = Field(500, ge=10, description="Held-out outcomes each reward model is measured on.")
    eval_split: Literal["test", "val"] = Field(
        "test", description="Where reward models are measured: 'val' while tuning, 'test' for results."
    )
    model_size: str = Field("tiny", description="Backbone size: " + ", ".join(SIZES) + ".")
    pretrain_steps: int = Field(
        1500,
        ge=0,
        description=(
            "Language-model steps on unlabelled right outcomes (the backbone every reward model starts from)."
        ),
    )
    pretrain_lr: float = Field(3e-3, gt=0)
    steps: int = Field(300, ge=1, description="Fine-tuning steps per reward model (backbone and log-likelihood head).")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0, description="Fine-tuning learning rate of the backbone.")
    head_lr: float = Field(1e-2, gt=0, description="Learning rate of the log-likelihood head (scale and bias).")

    @field_validator("world")
    @classmethod
    def _world_gives_outcomes(cls, world: WorldRef, info: ValidationInfo) -> WorldRef:
        chains = world.make().chains() is not None
        kind = info.data.get("outcomes") or ("chains" if chains else "solutions")
        if kind == "chains" and not chains:
            raise ValueError(f"world {world.name!r} has no number chains; use rrm.outcomes: solutions")
        if kind == "solutions":
            require(world, "solutions", "RRM splits gold solutions into stretches at its step spans")
            require(world, "flaws", "RRM's wrong claims are planted flaws")
        return world

    @model_validator(mode="after")
    def _check(self) -> RRMConfig:
        if self.model_size not in SIZES:
            raise ValueError(f"model_size: use one of {', '.join(SIZES)}")
        if self.checkable_steps * 2 ** (self.levels - 2) >= LONGEST:
            raise ValueError(f"outcomes have at most {LONGEST} steps: lower levels or checkable_steps")
        names = [s.name for s in self.noise_sweep]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"noise_sweep: {', '.join(twice)} listed twice (settings are named by noise and agreement in whole %)"
            )
        return self

    @property
    def base_noise(self) -> NoiseSetting:
        return NoiseSetting(user_noise=self.user_noise, user_agreement=self.user_agreement)

    @property
    def outcome_kind(self) -> str:
        if self.outcomes is not None:
            return self.outcomes
        return "chains" if self.world.make().chains() is not None else "solutions"

    def steps_of(self, level: int) -> tuple[int, int]:
        s = self.checkable_steps
        return (1, s) if level == 1 else (s * 2 ** (level - 2) + 1, min(LONGEST, s * 2 ** (level - 1)))

    def level_of(self, n_steps: int) -> int:
        return next(k for k in range(1, self.levels + 1) if n_steps <= self.steps_of(k)[1])


class LongChains(Section):
    """Accuracy of each long-outcome reward model on held-out outcomes (balanced: chance 50%)."""

    recursive: Estimate
    unassisted: Estimate
    ceiling: Estimate
    recursive_minus_unassisted: Estimate = Field(description="Paired over the same held-out outcomes.")
    recursive_minus_ceiling: Estimate = Field(description="Paired over the same held-out outcomes.")
    label_accuracy: dict[str, float] = Field(
        description="Share of each reward model's training labels that were right."
    )
    lower_levels: dict[str, Estimate] = Field(
        description="The recursive reward model of each lower level, on its own level."
    )
    assistant_accuracy: dict[str, float] = Field(description="Share of statements the assistants made that were right.")
    long_chain_steps: list[int] = Field(description="Fewest and most steps of the long outcomes.")
    world: str = "arithmetic"
    outcomes: str = Field("chains", description="chains or solutions (see the config's rrm.outcomes).")
    eval_split: str = "test"
    agents: str = Field("argmax", description="Who assisted: argmax or trained (rrm.agents).")
    noise_sweep: dict[str, NoiseRow] = Field(
        default_factory=dict, description="Per unassisted user of rrm.noise_sweep."
    )
    agent_training: dict[str, AgentRow] = Field(default_factory=dict, description="Per level, its trained agent.")


class NoiseRow(Section):
    """One unassisted user of the sweep against the run's recursive and ceiling reward models."""

    user_noise: str
    user_agreement: float
    unassisted: Estimate = Field(description="Long-outcome reward model trained on this user's judgments.")
    recursive_minus_unassisted: Estimate = Field(description="Paired over the same held-out outcomes.")
    ceiling_minus_unassisted: Estimate = Field(description="Paired over the same held-out outcomes.")
    label_accuracy: float = Field(description="Share of this user's training labels that were right.")


class AgentRow(Section):
    """A level's trained agent on held-out pieces of its level, before and after RLOO."""

    reward_before: float = Field(description="Mean reward (its reward model's P(right)) of T=1 samples, untrained.")
    reward_after: float = Field(description="The same, on the same pieces and sampling seed, after training.")
    greedy_reward_before: float = Field(description="Mean reward of its greedy statements (what it states), untrained.")
    greedy_reward_after: float = Field(description="The same after training.")
    right_before: float = Field(description="Share of its greedy statements that are right, untrained.")
    right_after: float = Field(description="The same after training: the statements that assist the user.")
    reward_gain: float = Field(description="reward_after - reward_before: > 0 when RLOO raised the agent's reward.")
    right_gain: float = Field(description="right_after - right_before: what optimizing against the reward model did.")
    argmax_right: float = Field(description="Share right of the argmax assistant (the reward model's top option).")
    argmax_reward: float = Field(
        description="Mean reward of the argmax assistant's statements: the most an agent earns."
    )
    valid_after: float = Field(description="Share of greedy statements that are one of the piece's options.")
    kl: float = Field(description="KL(agent || untrained agent) of the last RLOO step's samples, nats.")


class RRMResults(Section):
    rrm: LongChains
