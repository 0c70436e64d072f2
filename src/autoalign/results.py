"""Typed results: the Estimate record every measured number is reported as.

An estimate is a point value with a 95% CI and says what its CI resampled: ``problems`` (or
images, questions) within one training seed, ``seeds`` (per-seed point values only), or
``seeds>problems`` (a hierarchical bootstrap: seeds, then problems within each seed). Pooled
estimates over seeds also carry the per-seed values, so a reader can see the training noise.
Protocols declare a results model built from these, and the report and CLI render from them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Estimate(BaseModel):
    model_config = ConfigDict(extra="allow")

    mean: float
    ci_low: float
    ci_high: float
    n: int = Field(description="Units resampled (problems, or seeds for pooled estimates).")
    resampled: str = Field("problems", description="What the CI resampled.")
    per_seed: list[float] | None = Field(None, description="Each seed's value, when pooled over seeds.")
    seeds: list[int] | None = None
