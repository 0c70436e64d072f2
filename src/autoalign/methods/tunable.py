"""``tunable``: the built-in students with their knobs exposed, the space an automated researcher
searches (``autoalign research``).

A tuned method must not win by spending more: the training steps and batch are the protocol's
budget and cannot be changed here. What can (``weak_to_strong.method_options.tunable``):

* ``loss``: ``ce`` (naive) or ``confidence`` (Burns et al.'s auxiliary confidence loss);
* ``lr_scale``, ``head_lr_scale``: multipliers of the budget's backbone and head learning rates;
* ``confidence_weight``, ``confidence_warmup``: the confidence loss's weight and warm-up fraction;
* ``label_temperature``: the weak soft labels sharpened (< 1) or softened (> 1) in logit space before
  training, p -> sigmoid(logit(p) / T); 1 leaves them as they are;
* ``rerun``: another student seed, nothing else changed (the identical reruns of a noise floor).

With no options it is ``confidence`` exactly (same seeds, same student), so the hand-written method is
the search's starting point and any change is measured against it on the same items and seeds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..registry import methods
from .base import Method, MethodInputs, Predictions
from .student import train_student


class TunableOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loss: Literal["ce", "confidence"] = "confidence"
    lr_scale: float = Field(1.0, gt=0, le=100)
    head_lr_scale: float = Field(1.0, gt=0, le=100)
    confidence_weight: float | None = Field(None, ge=0, le=1)
    confidence_warmup: float | None = Field(None, ge=0, le=1)
    label_temperature: float = Field(1.0, gt=0, le=100)
    rerun: int = Field(0, ge=0, le=1000, description="Another student seed for the same method (identical reruns).")


def options_error(options: dict) -> str | None:
    """None if ``options`` are valid tunable options, else one line naming the bad key."""
    try:
        TunableOptions.model_validate(options)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        return f"{where}: {err['msg']}"
    return None


def sharpen(labels, temperature: float) -> tuple[float, ...]:
    """Soft labels through p -> sigmoid(logit(p) / temperature) (clipped away from 0 and 1 first)."""
    if temperature == 1.0:
        return tuple(labels)
    out = []
    for p in labels:
        p = min(max(float(p), 1e-6), 1 - 1e-6)
        out.append(1 / (1 + math.exp(-math.log(p / (1 - p)) / temperature)))
    return tuple(out)


@methods.register("tunable")
class Tunable(Method):
    """``ce`` or ``confidence`` with learning rates, confidence weight and warm-up, and label
    sharpening as options; the budget's steps and batch fixed."""

    def run(self, inputs: MethodInputs) -> Predictions:
        o = TunableOptions.model_validate(inputs.options)
        b = inputs.budget
        budget = dataclasses.replace(
            b,
            lr=b.lr * o.lr_scale,
            head_lr=b.head_lr * o.head_lr_scale,
            confidence_weight=b.confidence_weight if o.confidence_weight is None else o.confidence_weight,
            confidence_warmup=b.confidence_warmup if o.confidence_warmup is None else o.confidence_warmup,
        )
        again = dataclasses.replace(inputs, budget=budget, replicate=inputs.replicate + o.rerun)
        out = train_student(again, sharpen(inputs.weak_labels, o.label_temperature), loss=o.loss)
        return Predictions(test=out["test"], transfer=out["transfer"], history=out["history"])
