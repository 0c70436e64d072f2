"""Training a classifier on soft labels and reading its predictions: what the built-in methods do
with the strong model, and what a plug-in method may call instead of writing its own loop.

``fit_predict`` is the one training path of weak-to-strong: the protocol's weak supervisors and
ceilings use it too, so a student and its ceiling differ only in their labels. ``train_student``
is the same path with a method's seeds: ``derive("w2s", size, "transfer", loss, replicate)`` for
training and ``derive("w2s", "head", size, "transfer", loss, replicate)`` for the head, so the same
student is the same run whichever method asks for it.
"""

from __future__ import annotations

from typing import Sequence

from .base import MethodInputs, ModelHandle, Text


def rounded(values) -> list[float]:
    """Predictions as they are stored (5 decimals); what the next stage sees is what was stored."""
    return [round(float(v), 5) for v in values]


def spans_of(*groups: Sequence[Text]):
    """``steps(body)`` for the classifier, read off the texts' own step spans."""
    table = {t.body: list(t.spans) for g in groups for t in g}
    return lambda body: list(table.get(body, ()))


def fit_predict(
    model: ModelHandle,
    train: Sequence[Text],
    labels: Sequence[float],
    predict_on: dict[str, Sequence[Text]],
    budget,
    task: str,
    head: str,
    train_seed: int,
    head_seed: int,
    loss: str = "ce",
) -> dict:
    """A classifier on ``model`` trained on ``labels`` of ``train``; its predictions on each group
    of ``predict_on`` (rounded) and its loss history."""
    from ..overseers.lm_classifier import Classifier, predict, train_classifier

    lm, tokenizer = model.load()
    clf = Classifier(lm, seed=head_seed, head=head, task=task)
    steps = spans_of(train, *predict_on.values())
    history = train_classifier(
        clf,
        tokenizer,
        list(train),
        list(labels),
        steps,
        budget.train_steps,
        budget.batch_size,
        budget.lr,
        budget.head_lr,
        seed=train_seed,
        loss=loss,
        weight=budget.confidence_weight,
        warmup=budget.confidence_warmup,
    )
    out = {role: rounded(predict(clf, tokenizer, list(texts), steps)) for role, texts in predict_on.items()}
    return {**out, "history": history}


def train_student(
    inputs: MethodInputs, labels: Sequence[float], model: ModelHandle | None = None, loss: str = "ce"
) -> dict:
    """``model`` (default: the strong one) trained on ``labels`` of the transfer texts with ``loss``
    (``ce`` or ``confidence``); returns ``{"transfer", "test", "history"}``."""
    model = model or inputs.strong
    tags = (model.size, "transfer", loss, inputs.replicate)
    return fit_predict(
        model,
        inputs.transfer,
        labels,
        {"transfer": inputs.transfer, "test": inputs.test},
        inputs.budget,
        inputs.task,
        inputs.head,
        train_seed=inputs.derive("w2s", *tags),
        head_seed=inputs.derive("w2s", "head", *tags),
        loss=loss,
    )
