"""Config sections the policy optimizers share, so every protocol that optimizes a policy spells its
knobs the same way (protocols never import each other)."""

from __future__ import annotations

from pydantic import Field

from ..protocol import Section
from .expert_iteration import ExpertIterationConfig
from .rloo import RLConfig


class RLSection(Section):
    """RLOO against the reward, with a KL penalty to the initial policy (``optimization/rloo.py``)."""

    steps: int = Field(150, ge=1, description="Policy-gradient steps (per round, in the alignment loop).")
    prompts_per_step: int = Field(16, ge=1, description="Training prompts per step.")
    samples_per_prompt: int = Field(8, ge=2, description="K samples per prompt (the leave-one-out group).")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate.")
    kl_coef: float = Field(0.005, ge=0, description="Weight of the sequence-level KL penalty in the reward.")
    measure_every: int = Field(25, ge=1, description="Steps between checkpoints measured on test problems.")
    standardize: bool = Field(
        False,
        description="z-score each batch's rewards before the KL penalty, so kl_coef means the same for every reward.",
    )

    def config(self, temperature: float, max_new_tokens: int) -> RLConfig:
        return RLConfig(
            self.steps,
            self.prompts_per_step,
            self.samples_per_prompt,
            self.lr,
            self.kl_coef,
            temperature,
            max_new_tokens,
            self.measure_every,
            self.standardize,
        )


class ExpertIterationSection(Section):
    """Sample N, keep the reward's pick, fine-tune, repeat (``optimization/expert_iteration.py``)."""

    rounds: int = Field(4, ge=1)
    prompts_per_round: int = Field(256, ge=1)
    samples_per_prompt: int = Field(8, ge=1, description="N: samples the reward picks one from.")
    finetune_steps: int = Field(40, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0)

    def config(self, temperature: float, max_new_tokens: int) -> ExpertIterationConfig:
        return ExpertIterationConfig(
            self.rounds,
            self.prompts_per_round,
            self.samples_per_prompt,
            self.finetune_steps,
            self.batch_size,
            self.lr,
            temperature,
            max_new_tokens,
        )


class OverseerTraining(Section):
    """How a reward model is trained on checker-labelled samples before a policy meets it."""

    steps: int = Field(100, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0)
    head_lr: float = Field(1e-2, gt=0)

    def training(self) -> dict:
        return dict(steps=self.steps, batch_size=self.batch_size, lr=self.lr, head_lr=self.head_lr)
