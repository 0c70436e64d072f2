"""The weak-to-strong experiment's config section and its typed results."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ...methods.base import check_method_names, method_class
from ...protocol import Section
from ...results import Estimate
from ...worlds.reference import WorldRef, require, world_ref

CANARIES = ("majority", "peek")


class WeakToStrongConfig(Section):
    """Weak supervisors, strong students, ceilings: performance gap recovered (Burns et al. 2023).

    Primary endpoint (declared before running): for the largest weak->strong gap, naive PGR (method
    ``ce``) > 0, and PGR(confidence) - PGR(ce) > 0."""

    task: Literal["solution", "step"] = Field(
        "solution",
        description=("solution: is this solution correct? step: is the last step of this partial solution correct?"),
    )
    world: WorldRef = Field(
        default_factory=lambda: world_ref("arithmetic", min_steps=2, max_steps=4, operators="+-*"),
        description="{name: <registered world>, ...its knobs}: any world with gold solutions and planted flaws.",
    )
    data: str | None = Field(
        None, description=("A JSONL of {text, label} pairs instead of a world (labels 0/1 or true/false).")
    )
    sizes: list[str] = Field(
        ["micro", "tiny", "small"],
        min_length=2,
        description=(
            "Models, weakest first: lab sizes (micro, tiny, small, medium: pretrained here) or local checkpoints "
            "(hf/<folder>, fine-tuned as they are)."
        ),
    )
    pairs: list[tuple[str, str]] | None = Field(
        None, description=("(weak, strong) pairs; default: every weaker->stronger pair.")
    )
    pretrain_steps: dict[str, int] = Field(
        {"micro": 150, "tiny": 400, "small": 1000, "medium": 2000},
        description=(
            "Language-model pretraining on the world's unlabelled solutions per model (the strong model's latent "
            "knowledge); a checkpoint without an entry is not pretrained further."
        ),
    )
    pretrain_lr: float = Field(3e-3, gt=0)
    train_steps: int = Field(250, ge=1, description="Classifier fine-tuning steps (every model, every method).")
    batch_size: int = Field(64, ge=1)
    head: Literal["loglik", "linear"] = Field(
        "loglik",
        description=(
            "loglik: the model's own step log-probabilities through an affine map (elicits what pretraining taught); "
            "linear: a fresh linear map of the last hidden state."
        ),
    )
    lr: float = Field(3e-4, gt=0, description="Backbone fine-tuning peak learning rate.")
    head_lr: float = Field(1e-2, gt=0, description="Head learning rate.")
    weak_items: int = Field(2000, ge=20, description="Ground-truth items the weak supervisors train on.")
    transfer_items: int = Field(
        2000, ge=20, description=("Items the weak supervisor labels and students (and ceilings) train on.")
    )
    test_items: int = Field(1000, ge=20, description="Held-out items; their labels are sealed.")
    methods: list[str] = Field(
        ["ce", "confidence", "bootstrap", "overseer"],
        min_length=1,
        description=(
            "Registered weak-to-strong methods (autoalign.registry.methods: built-in or a plugin's), each scored."
        ),
    )
    method_options: dict[str, dict[str, Any]] = Field(
        {},
        description=("Per method, options handed to it as they are (for a plugin's method; the built-ins take none)."),
    )
    overseer: str = Field(
        "prm",
        description=(
            "The registered overseer that supervises methods whose supervisor is an overseer (method overseer): "
            "fine-tuned from the weak model on the weak items."
        ),
    )
    confidence_weight: float = Field(0.75, ge=0, le=1, description="Auxiliary confidence loss weight (alpha_max).")
    confidence_warmup: float = Field(0.2, ge=0, le=1, description="Share of training over which the weight ramps up.")
    noise_seeds: int = Field(2, ge=0, description="Extra student seeds (ce) per pair for the noise floor.")
    canaries: bool = Field(True, description="Run the majority-class and test-label-reading canaries.")
    min_gap: float = Field(0.02, ge=0, description="PGR only where the ceiling beats the weak model by this much.")
    overseer_steps: int = Field(150, ge=1, description="Training steps of the overseer when it is the supervisor.")

    @field_validator("methods")
    @classmethod
    def _methods(cls, names: list[str]) -> list[str]:
        check_method_names(names)
        return names

    @model_validator(mode="after")
    def _check(self) -> WeakToStrongConfig:
        from ...models.providers import size_or_address

        for s in self.sizes:
            address = size_or_address(s, "weak_to_strong.sizes")
            if address.lab_size is None and address.provider not in ("hf", "lab"):
                raise ValueError(
                    f"{s}: a weak or strong model must be a local model (lab size or hf/<folder>): it is fine-tuned"
                )
            if address.lab_size is not None and s not in self.pretrain_steps:
                raise ValueError(f"pretrain_steps: no entry for size {s}")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError("sizes: each model at most once")
        for w, s in self.pairs or []:
            if w not in self.sizes or s not in self.sizes:
                raise ValueError(f"pairs: ({w}, {s}) uses a size not in sizes")
            if self.sizes.index(w) >= self.sizes.index(s):
                raise ValueError(f"pairs: ({w}, {s}): the weak model must come before the strong one in sizes")
        if self.task == "step" and self.data is not None:
            raise ValueError("task step needs a world, not a data file")
        if self.data is None:
            try:
                require(self.world, "solutions", "weak-to-strong items are the world's gold solutions")
                require(self.world, "flaws", "half the weak-to-strong items carry a planted flaw")
            except ValueError as e:
                raise ValueError(f"world: {e}") from None
        if self.overseer_supervised():
            from ...overseers.base import check_overseer_names

            try:
                check_overseer_names([self.overseer], "solutions")
            except ValueError as e:
                raise ValueError(f"overseer: {e}") from None
        for name in self.method_options:
            if name not in self.methods:
                raise ValueError(f"method_options: {name!r} is not in methods")
        if "tunable" in self.method_options:
            from ...methods.tunable import options_error

            error = options_error(self.method_options["tunable"])
            if error:
                raise ValueError(f"method_options.tunable.{error}")
        return self

    METHOD_ONLY: ClassVar[tuple[str, ...]] = ("methods", "method_options", "noise_seeds", "canaries", "min_gap")

    def shared(self) -> "WeakToStrongConfig":
        """This config less what only the methods and scoring read: the key of the stages every method
        builds on (pretrained models, supervisors, ceilings), so that runs differing only in their
        methods (an automated researcher's proposals) train those once."""
        defaults = {
            k: WeakToStrongConfig.model_fields[k].get_default(call_default_factory=True) for k in self.METHOD_ONLY
        }
        return self.model_copy(update=defaults)

    def overseer_supervised(self) -> list[str]:
        """The methods that learn from the overseer's labels (not the weak model's)."""
        return [m for m in self.methods if method_class(m).supervisor == "overseer"]

    def pair_list(self) -> list[tuple[str, str]]:
        if self.pairs:
            return [tuple(p) for p in self.pairs]
        return [(w, s) for i, w in enumerate(self.sizes) for s in self.sizes[i + 1 :]]


class MethodResult(Section):
    student: Estimate
    pgr: Estimate | None
    pgr_minus_ce: Estimate | None = Field(None, description="PGR(this method) - PGR(ce), paired over test items.")
    agreement: Estimate = Field(description="Share of test items where student and supervisor agree.")
    supervisor: Estimate | None = Field(
        None,
        description=(
            "The method's own supervisor's test accuracy (the overseer), where it is not the weak model's classifier: "
            "its PGR is measured from it."
        ),
    )
    flags: list[str]


class PairResult(Section):
    weak: Estimate
    ceiling: Estimate
    guard: str | None = Field(
        description=("Why there is no PGR for this pair (the ceiling does not beat the weak model).")
    )
    methods: dict[str, MethodResult]
    noise_floor: float | None = Field(description="Std of naive PGR over student seeds: smaller differences are noise.")


class WeakToStrongResults(Section):
    weak_to_strong: dict
