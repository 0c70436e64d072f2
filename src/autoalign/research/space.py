"""A declared search space: each knob a range (linear or log) or a list of choices.

The space is part of the research config, written before the search runs: a proposer may only
propose points inside it, so what was searched is on record.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Knob(BaseModel):
    """``{low, high, log}`` for a number, or ``{choices: [...]}``."""

    model_config = ConfigDict(extra="forbid")

    low: float | None = None
    high: float | None = None
    log: bool = Field(False, description="Sample on a log scale (learning rates, temperatures).")
    choices: list[Any] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> "Knob":
        ranged = self.low is not None or self.high is not None
        if ranged == (self.choices is not None):
            raise ValueError("give either low and high, or choices")
        if ranged:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError("a range needs low < high")
            if self.log and self.low <= 0:
                raise ValueError("a log range needs low > 0")
        return self

    def sample(self, rng: np.random.Generator):
        if self.choices is not None:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def contains(self, value) -> bool:
        if self.choices is not None:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high


def rounded(params: dict) -> dict:
    """Proposed numbers to 4 significant digits: what is recorded is what runs."""
    return {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in params.items()}
