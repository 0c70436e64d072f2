"""The protocol's side of weak-to-strong: the models that see ground truth.

The weak supervisor (a classifier on the weak model, trained on the weak items' labels) and the
ceiling (the strong model trained on the transfer items' labels) share the students' training path
(``methods.student.fit_predict``), so a student and its ceiling differ only in their labels. The
overseer supervisor is any registered overseer (``weak_to_strong.overseer``, a PRM by default)
fine-tuned from the weak model on the weak items through the Overseer contract; its scores, Platt
scaled on the same items, are the soft labels a method with ``supervisor = "overseer"`` learns from.
"""

from __future__ import annotations

import math

import numpy as np

from ...methods.base import Budget, ModelHandle
from ...methods.student import fit_predict, rounded
from .tasks import Item, items, steps_of, unlabelled


def handle(ctx, size: str, lm_info: dict) -> ModelHandle:
    """The pretrained model of ``size`` (the ``pretrain`` stage's result) as a method receives it."""
    return ModelHandle(size, str(ctx.file(lm_info["path"])), int(lm_info["params"]))


def budget(w) -> Budget:
    return Budget(
        w.train_steps, w.batch_size, w.lr, w.head_lr, w.confidence_weight, w.confidence_warmup, w.overseer_steps
    )


def fit_and_predict(ctx, size: str, lm_info: dict, w, role: str) -> dict:
    """Stage: a classifier of ``size`` trained on the ground truth of the ``role`` items (``weak``: the
    weak supervisor; ``transfer``: the ceiling); its predictions on the transfer and test texts."""
    steps = steps_of(w)
    train = items(ctx, w, role)
    tags = (size, role, "ce", 0)
    return fit_predict(
        handle(ctx, size, lm_info),
        unlabelled(train, steps),
        [float(it.label) for it in train],
        {"transfer": unlabelled(items(ctx, w, "transfer"), steps), "test": unlabelled(items(ctx, w, "test"), steps)},
        budget(w),
        w.task,
        w.head,
        train_seed=ctx.derive("w2s", *tags),
        head_seed=ctx.derive("w2s", "head", *tags),
    )


def overseer_supervisor(ctx, size: str, lm_info: dict, w, overseer_digest: str) -> dict:
    """Stage: the overseer ``w.overseer`` on the weak model, trained on the weak items' solutions and
    the checker's verdicts; its P(correct) of the transfer and test texts."""
    from sklearn.linear_model import LogisticRegression

    from ...overseers.base import OverseerContext, build_overseer

    world = w.world.make()
    backbone = handle(ctx, size, lm_info).load()
    overseer = build_overseer(
        w.overseer,
        OverseerContext(
            world=world,
            seed=ctx.derive("w2s", "overseer"),
            backbone=backbone,
            steps=w.overseer_steps,
            description=f"weak-to-strong: {w.overseer} supervisor",
        ),
        where="weak_to_strong.overseer",
    )
    weak = items(ctx, w, "weak")
    overseer.fit(
        [it.problem for it in weak], [it.body for it in weak], [world.check(it.problem, it.body) for it in weak]
    )

    def raw(role_items: list[Item]) -> np.ndarray:
        scores = overseer.score([it.problem for it in role_items], [it.body for it in role_items])
        return np.array([_raw(s, w.task) for s in scores])

    # An overseer ranks; it does not say how likely a solution is right (a PRM's product of step
    # probabilities is below 0.5 for most correct solutions). Platt scaling on the weak items, whose
    # labels the supervisor already trained on, turns its score into the soft label a weak supervisor gives.
    y = [int(it.label) for it in weak]
    platt = LogisticRegression().fit(raw(weak)[:, None], y) if len(set(y)) == 2 else None

    def score(role_items: list[Item]) -> list[float]:
        if platt is None:  # one class only among the weak items: its rate is all the supervisor knows
            return [float(np.mean(y))] * len(role_items)
        return platt.predict_proba(raw(role_items)[:, None])[:, 1].tolist()

    return {"transfer": rounded(score(items(ctx, w, "transfer"))), "test": rounded(score(items(ctx, w, "test")))}


def _raw(s, task: str) -> float:
    """One number per item from an overseer's scores: the last step's (as a logit, where step scores
    are probabilities) for the step task, the solution's (floored at -30) for the solution task."""
    if task == "step":
        if not s.steps:
            return float(s.solution) if math.isfinite(s.solution) else 0.0
        last = float(s.steps[-1])
        return _logit(last) if 0.0 <= last <= 1.0 else last
    return max(float(s.solution), -30.0) if not math.isnan(s.solution) else -30.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))
