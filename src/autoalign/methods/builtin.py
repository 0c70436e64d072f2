"""The built-in weak-to-strong methods (Burns et al. 2023), each a strong student on soft labels.

* ``ce``: naive cross-entropy on the weak supervisor's labels;
* ``confidence``: the auxiliary confidence loss (``overseers/lm_classifier.py``), which lets the
  student overrule labels it is confident are wrong;
* ``bootstrap``: weak -> next size -> ... -> strong, each size trained (``ce``) on the previous
  one's predictions on the transfer texts; it does not apply to a pair with no size between;
* ``overseer``: ``ce`` on the labels of an overseer supervisor (``weak_to_strong.overseer``, a PRM
  by default) instead of the weak model's classifier; PGR is then measured from that supervisor.
"""

from __future__ import annotations

from ..registry import methods
from .base import Method, MethodInputs, Predictions
from .student import train_student


def _predictions(out: dict) -> Predictions:
    return Predictions(test=out["test"], transfer=out["transfer"], history=out["history"])


@methods.register("ce")
class CrossEntropy(Method):
    """The strong model trained with cross-entropy on the weak labels."""

    def run(self, inputs: MethodInputs) -> Predictions:
        return _predictions(train_student(inputs, inputs.weak_labels))


@methods.register("confidence")
class AuxiliaryConfidence(Method):
    """The strong model trained with the auxiliary confidence loss (weight and warm-up: the budget's)."""

    def run(self, inputs: MethodInputs) -> Predictions:
        return _predictions(train_student(inputs, inputs.weak_labels, loss="confidence"))


@methods.register("bootstrap")
class Bootstrap(Method):
    """Weak labels passed up the ladder of sizes: each intermediate size learns the previous one's
    labels and labels the transfer texts for the next."""

    wants_intermediate_models = True

    def run(self, inputs: MethodInputs) -> Predictions | None:
        if not inputs.intermediates:
            return None
        labels = inputs.weak_labels
        for model in inputs.intermediates:
            labels = train_student(inputs, labels, model=model)["transfer"]
        return _predictions(train_student(inputs, labels))


@methods.register("overseer")
class OverseerSupervised(Method):
    """Cross-entropy on an overseer's labels: can one of our overseers supervise a stronger model?"""

    supervisor = "overseer"

    def run(self, inputs: MethodInputs) -> Predictions:
        return _predictions(train_student(inputs, inputs.weak_labels))
