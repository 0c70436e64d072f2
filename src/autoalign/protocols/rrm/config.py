"""The ``rrm`` config section and the results it writes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...models import SIZES
from ...protocol import Section
from ...results import Estimate
from .chains import WORLDS

DEFAULT_OPERATORS = {"arithmetic": "+-", "countdown": "+-*/"}


class RRMConfig(Section):
    """Recursive reward modeling on arithmetic chains or countdown solutions, against unassisted and
    ground-truth labels."""

    world: Literal["arithmetic", "countdown"] = Field("arithmetic", description="Where the outcomes come from: " + ", ".join(WORLDS) + ".")
    checkable_steps: int = Field(2, ge=1, description="Longest chain the user checks exactly.")
    levels: int = Field(3, ge=2, le=4, description="Levels; the last holds the long chains measured.")
    user_agreement: float = Field(0.7, ge=0.5, le=1, description="Unassisted user's agreement with the truth on long chains.")
    operators: str | None = Field(None, description="Operators of the chains; default '+-' (arithmetic), '+-*/' (countdown).")
    max_operand: int = Field(9, ge=1, le=99, description="Largest operand (countdown: largest given number).")
    train_outcomes: int = Field(2000, ge=10, description="Outcomes labelled per reward model.")
    test_outcomes: int = Field(500, ge=10, description="Held-out outcomes each reward model is measured on.")
    eval_split: Literal["test", "val"] = Field("test", description="Where reward models are measured: 'val' while tuning, 'test' for results.")
    model_size: str = Field("tiny", description="Backbone size: " + ", ".join(SIZES) + ".")
    pretrain_steps: int = Field(1500, ge=0, description="Language-model steps on unlabelled true outcomes (the backbone every reward model starts from).")
    pretrain_lr: float = Field(3e-3, gt=0)
    steps: int = Field(300, ge=1, description="Fine-tuning steps per reward model (backbone and log-likelihood head).")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0, description="Fine-tuning learning rate of the backbone.")
    head_lr: float = Field(1e-2, gt=0, description="Learning rate of the log-likelihood head (scale and bias).")

    @model_validator(mode="after")
    def _check(self) -> RRMConfig:
        if self.model_size not in SIZES:
            raise ValueError(f"model_size: use one of {', '.join(SIZES)}")
        if self.checkable_steps * 2 ** (self.levels - 2) >= 8:
            raise ValueError("chains have at most 8 operations: lower levels or checkable_steps")
        bad = set(self.chain_operators) - set("+-*/")
        if bad or not self.chain_operators:
            raise ValueError(f"operators: use any of '+-*/' (got {self.chain_operators!r})")
        return self

    @property
    def chain_operators(self) -> str:
        return self.operators if self.operators is not None else DEFAULT_OPERATORS[self.world]

    def steps_of(self, level: int) -> tuple[int, int]:
        s = self.checkable_steps
        return (1, s) if level == 1 else (s * 2 ** (level - 2) + 1, min(8, s * 2 ** (level - 1)))

    def level_of(self, n_ops: int) -> int:
        return next(k for k in range(1, self.levels + 1) if n_ops <= self.steps_of(k)[1])


class LongChains(Section):
    """Accuracy of each long-chain reward model on held-out outcomes (balanced: chance 50%)."""

    recursive: Estimate
    unassisted: Estimate
    ceiling: Estimate
    recursive_minus_unassisted: Estimate = Field(description="Paired over the same held-out outcomes.")
    recursive_minus_ceiling: Estimate = Field(description="Paired over the same held-out outcomes.")
    label_accuracy: dict[str, float] = Field(description="Share of each reward model's training labels that were right.")
    lower_levels: dict[str, Estimate] = Field(description="The recursive reward model of each lower level, on its own level.")
    assistant_accuracy: dict[str, float] = Field(description="Share of values the assistants stated that were right.")
    long_chain_steps: list[int]
    world: str = "arithmetic"
    eval_split: str = "test"


class RRMResults(Section):
    rrm: LongChains
