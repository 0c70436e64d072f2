"""The weak-to-strong method contract: weak labels in, predictions on the test texts out.

A method is how a strong model is taught from a weak supervisor (Burns et al. 2023: cross-entropy on
the weak labels, an auxiliary confidence loss, bootstrapping through intermediate sizes, ...). It is
what an automated researcher varies, so it is a plug-in: a :class:`Method` subclass registered by
name in ``autoalign.registry.methods`` and named in ``weak_to_strong.methods``. A method receives
a :class:`MethodInputs` and nothing else:

* the strong model as a white-box :class:`ModelHandle` (each ``load()`` is a fresh copy of the
  pretrained language model and its tokenizer);
* the transfer texts with its supervisor's soft labels, and the test texts: :class:`Text`
  records, which have no label field. The supervisor is the weak model's classifier, or, for a
  method whose ``supervisor`` is ``"overseer"``, the overseer named in ``weak_to_strong.overseer``
  (any registered overseer, trained on the weak model): supervisors are the protocol's side of the
  experiment, so they see ground truth of their own training items and methods never do;
* the weak model's handle (``wants_weak_model``) and the handles of the sizes between weak and
  strong (``wants_intermediate_models``), only if it asks;
* a seed (and ``derive`` for more), the training budget and its own options.

It never receives a world, a checker or a label of a transfer or test item: the protocol's scoring
stage alone reads test labels. It returns :class:`Predictions` (P(correct) per test text).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

Spans = tuple[tuple[int, int], ...]
SUPERVISORS = ("weak", "overseer")


@dataclass(frozen=True)
class Text:
    """An item as a method sees it: what a classifier reads, and no label."""

    text: str
    prompt: str = ""  # the problem, for classifiers that read prompt and solution apart
    body: str = ""  # the (partial) solution
    spans: Spans = ()  # character spans of the body's steps (the answer step last)


@dataclass(frozen=True)
class ModelHandle:
    """A pretrained model a method may fine-tune: ``load()`` gives a fresh (module, tokenizer)."""

    size: str  # as written in ``weak_to_strong.sizes``
    path: str  # the saved model folder
    params: int

    def load(self) -> tuple[Any, Any]:
        from ..models import load_pretrained
        from ..models.device import place

        lm, tokenizer = load_pretrained(self.path)
        return place(lm), tokenizer


@dataclass(frozen=True)
class Budget:
    """The compute a method may spend and the protocol's training knobs it may use."""

    train_steps: int
    batch_size: int
    lr: float  # backbone peak learning rate
    head_lr: float
    confidence_weight: float = 0.75
    confidence_warmup: float = 0.2
    overseer_steps: int = 150  # training steps of a supervisor a method trains itself


@dataclass(frozen=True)
class MethodInputs:
    """Everything a method receives (see the module docstring for what it never receives)."""

    name: str  # the name the method runs under
    weak_size: str
    strong: ModelHandle
    transfer: tuple[Text, ...]
    weak_labels: tuple[float, ...]  # the supervisor's P(correct), one per transfer text
    supervisor: str  # who gave them: "weak" (the weak model's classifier) or "overseer"
    test: tuple[Text, ...]
    seed: int
    replicate: int  # 0: the method's run; k > 0: extra seeds for the noise floor
    budget: Budget
    task: str  # "solution" or "step": what a prediction is about
    head: str  # the classifier head the protocol's own classifiers use ("loglik" or "linear")
    derive: Callable[..., int] = field(repr=False)  # derive(*tags): a seed from the run's seed and tags
    options: dict = field(default_factory=dict)  # ``weak_to_strong.method_options[name]``
    weak: ModelHandle | None = None  # if ``wants_weak_model``
    intermediates: tuple[ModelHandle, ...] = ()  # if ``wants_intermediate_models``, weakest first


@dataclass(frozen=True)
class Predictions:
    """What a method returns: P(correct) per test text (a missing or malformed one counts wrong)."""

    test: Sequence[float]
    transfer: Sequence[float] | None = None  # the student's own predictions on the transfer texts
    history: Sequence[float] = ()  # training losses, for the record


class Method(ABC):
    """A weak-to-strong method. Subclasses implement :meth:`run` and say what else they need."""

    supervisor: ClassVar[str] = "weak"  # whose labels it learns from: "weak" or "overseer"
    wants_weak_model: ClassVar[bool] = False
    wants_intermediate_models: ClassVar[bool] = False

    @abstractmethod
    def run(self, inputs: MethodInputs) -> Predictions | None:
        """Predictions for ``inputs.test``; None where the method does not apply (say, bootstrapping
        with no size between weak and strong)."""


def method_class(name: str) -> type[Method]:
    """The registered method ``name``; UserError if it is unknown or not a Method."""
    from ..errors import UserError
    from ..registry import methods

    cls = methods.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise UserError(f"{name!r} is registered as a weak-to-strong method but is not a Method class")
    if cls.supervisor not in SUPERVISORS:
        raise UserError(f"method {name!r}: supervisor must be one of {', '.join(SUPERVISORS)}, not {cls.supervisor!r}")
    return cls


def check_method_names(names: Sequence[str]) -> None:
    """For config validators: raise ValueError naming the first unknown or repeated method."""
    from ..errors import UserError

    for name in names:
        try:
            method_class(name)
        except UserError as e:
            raise ValueError(str(e)) from None
    if len(set(names)) != len(names):
        raise ValueError("each method at most once")


def source_digest(cls: type) -> str:
    """A hash of the file that defines ``cls`` when it is a plugin's: part of a stage's key, so a method
    or overseer edited in place is run again (autoalign's own code version covers its built-ins)."""
    from ..runtime.context import outside_source_digest

    return outside_source_digest(cls.__module__)
