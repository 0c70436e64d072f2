"""Iterated amplification on five algorithmic tasks (Christiano, Shlegeris and Amodei 2018).

Question: can a model learn to answer hard questions without ever seeing their answers, from a weak
expert H who can only look up single facts, split a question into subquestions and combine answers?

Method, per task (``worlds/algorithmic.py``), for the amplified and the supervised answerer alike:
1. Training questions: each step a batch from the train split, of a size set by a curriculum (the
   sizes in ``sizes``, growing over the first ``curriculum_fraction`` of training; at each point half
   the batch is the current size, half the smaller ones). The supervised answerer's depths are
   uniform over the task's range. The amplified answerer's depths are uniform up to a *reach* that
   grows, without labels, when the model agrees with Amplify(model) at the current reach
   (balanced over the targets' answers, so that a constant answer never passes) on ``advance_at``
   of the questions: a depth's targets are only as good as the answers one level
   down, and trained on every depth from the start, amplification falls into a self-consistent
   wrong answer (always ``-`` for wildcard search: seen in our first run, which had no reach, and in
   the second, whose reach grew on plain agreement, which a constant answer passes).
2. Targets. *Amplified*: Amplify(model) = H decomposes each question, asks the **current** model the
   subquestions (its answers restricted to the question's sensible choices), and combines them; the
   model never sees a true answer. Targets are recomputed with the current model every
   ``refresh_every`` steps. *Supervised*: the true answer (the ground-truth solver), the baseline.
3. The same answerer (``models/char_classifier.py``), the same optimizer, steps and batch size.
4. Measured: accuracy on held-out hard questions (the upper half of the depths, at the largest
   size): a learning curve on the val split, the final accuracy on the test split, with a CI over
   questions (and over seeds with ``seeds:``); for amplification, the fraction of its training targets
   that were wrong at each point (does H's reliance on the model compound errors?).

Primary endpoints (declared before any run): for each task, amplified and supervised final test
accuracy; expected: amplified within a few points of supervised, as in the paper. Exploratory: the
gap's CI, the curves, the wrong-target fraction.

Bound to the algorithmic tasks by nature: H decomposes questions with each task's own
decomposition (``amplify``), so this protocol imports ``worlds/algorithmic.py`` directly (the one
exception the import contract in ``pyproject.toml`` allows it).
"""

from __future__ import annotations

import random
import time

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from ...measures import bootstrap_ci
from ...models.char_classifier import CLASSIFIER_SIZES, CharClassifier, Trainer, answer
from ...protocol import Section, protocol
from ...registry import worlds
from ...report.fmt import text_estimate, text_points
from ...results import Estimate
from ...runtime.progress import log
from ...worlds.algorithmic import TASKS, AlgorithmicConfig, AlgorithmicWorld, Question, amplify
from .report import amplification_section

METHODS = ("amplified", "supervised")


class AmplificationConfig(Section):
    """Amplification vs supervised learning on the algorithmic tasks, same model and budget."""

    tasks: list[str] = Field(list(TASKS), min_length=1, description="Tasks to run (worlds of worlds/algorithmic.py).")
    sizes: list[int] = Field(
        [3, 4, 5, 6], min_length=1, description="Curriculum over facts per problem; the last is measured."
    )
    curriculum_fraction: float = Field(0.5, ge=0, le=1, description="Share of training over which the size grows.")
    model_size: str = Field("micro", description="Answerer size: " + ", ".join(CLASSIFIER_SIZES))
    steps: int = Field(2000, ge=1, description="Optimizer steps, the same for both methods.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)
    refresh_every: int = Field(
        10, ge=1, description="Steps between recomputing amplified targets with the current model."
    )
    advance_at: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Agreement of the model with its amplified targets "
        "at the current reach that lets the amplified answerer's depths grow by one.",
    )
    eval_every: int = Field(200, ge=1, description="Steps between points of the learning curve.")
    val_questions: int = Field(150, ge=10, description="Held-out hard questions for the curves (val split).")
    test_questions: int = Field(400, ge=10, description="Held-out hard questions for the final accuracy (test split).")

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v):
        bad = [t for t in v if t not in TASKS]
        if bad:
            raise ValueError(f"unknown task {bad[0]!r}; use any of {', '.join(TASKS)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "AmplificationConfig":
        if self.model_size not in CLASSIFIER_SIZES:
            raise ValueError(f"model_size: use one of {', '.join(CLASSIFIER_SIZES)}")
        if sorted(self.sizes) != self.sizes or not 1 <= self.sizes[0] or self.sizes[-1] > 9:
            raise ValueError("sizes: increasing, between 1 and 9")
        return self


def make_task(name: str, a: AmplificationConfig) -> AlgorithmicWorld:
    return worlds.get(name)(AlgorithmicConfig(size=a.sizes[-1]))


def size_at(step: int, a: AmplificationConfig, rng: random.Random) -> int:
    """The curriculum: the current size for half the questions, the smaller ones for the rest."""
    ramp = a.curriculum_fraction * a.steps
    j = len(a.sizes) - 1 if ramp == 0 else min(len(a.sizes) - 1, int(step / (ramp / len(a.sizes))))
    return a.sizes[j] if j == 0 or rng.random() < 0.5 else rng.choice(a.sizes[:j])


def training_batch(
    world: AlgorithmicWorld, seed: int, step: int, a: AmplificationConfig, reach: int | None = None
) -> list[Question]:
    """Step ``step``'s questions: a pure function of (seed, task, step, reach); depths up to ``reach``."""
    rng = random.Random(f"amplification:{seed}:{world.name}:{step}")
    out = []
    while len(out) < a.batch_size:
        size = size_at(step, a, rng)
        top = world.max_depth(size) if reach is None else min(reach, world.max_depth(size))
        q = world.draw_question(rng, size, rng.randint(world.min_depth, top))
        if world.split_of(q) == "train":
            out.append(q)
    return out


def ask(model: CharClassifier):
    """The current model as an answerer of questions (what H consults)."""
    return lambda qs: answer(model, [q.prompt for q in qs], [q.choices for q in qs])


def balanced_agreement(pairs: list[tuple[str, str]]) -> float:
    """Mean over target answers of how often the model gives that answer where the target does:
    a model that always says ``-`` agrees with 80% of targets where 80% are ``-``, but scores 1/K here."""
    by_target: dict[str, list[bool]] = {}
    for own, target in pairs:
        by_target.setdefault(target, []).append(own == target)
    return float(np.mean([np.mean(v) for v in by_target.values()]))


def accuracy(model: CharClassifier, world: AlgorithmicWorld, questions: list[Question]) -> np.ndarray:
    got = ask(model)(questions)
    return np.array([g == world.solve(q) for g, q in zip(got, questions)], dtype=float)


def train_answerer(ctx, task: str, method: str, a: AmplificationConfig) -> dict:
    """Stage: train one answerer by one method on one task; its curve and final test accuracy."""
    world = make_task(task, a)
    torch.manual_seed(ctx.derive("answerer", task))  # the same initial weights for both methods
    model = CharClassifier(a.model_size)
    trainer = Trainer(model, a.steps, a.lr)
    val = world.problems(ctx.seed, "val", a.val_questions)
    curve: dict[str, list] = {
        "step": [],
        "val_accuracy": [],
        "wrong_targets": [],
        "asked_per_question": [],
        "reach": [],
    }
    reach = world.min_depth if method == "amplified" else None
    deepest = world.max_depth(a.sizes[-1])
    pending: list[tuple[list[Question], list[str]]] = []
    wrong, total, asked = 0, 0, 0
    t0 = time.time()
    for step in range(a.steps):
        if not pending:  # the next refresh_every batches, with targets from the current model
            batches = [
                training_batch(world, ctx.seed, s, a, reach) for s in range(step, min(a.steps, step + a.refresh_every))
            ]
            flat = [q for b in batches for q in b]
            truth = [world.solve(q) for q in flat]  # for measurement, and the supervised targets
            if method == "amplified":
                targets, n_asked = amplify(world, flat, ask(model))
                asked += n_asked
                own = ask(model)(flat)  # label-free: does the model already agree with its targets?
                at_reach = [(o, t) for o, t, q in zip(own, targets, flat) if q.depth == reach]
                if reach < deepest and len(at_reach) >= 20 and balanced_agreement(at_reach) >= a.advance_at:
                    reach += 1
            else:
                targets = truth
            wrong += sum(t != g for t, g in zip(targets, truth))
            total += len(flat)
            pending = [(b, targets[i * a.batch_size : (i + 1) * a.batch_size]) for i, b in enumerate(batches)]
        batch, targets = pending.pop(0)
        trainer.step([q.prompt for q in batch], targets, [q.choices for q in batch])
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps:
            curve["step"].append(step + 1)
            curve["val_accuracy"].append(round(float(accuracy(model, world, val).mean()), 4))
            curve["wrong_targets"].append(round(wrong / max(1, total), 4))
            curve["asked_per_question"].append(round(asked / max(1, total), 3))
            curve["reach"].append(deepest if reach is None else reach)
            wrong, total, asked = 0, 0, 0
    test = world.problems(ctx.seed, "test", a.test_questions)
    correct = accuracy(model, world, test)
    log(f"amplification {task} {method}: test accuracy {correct.mean():.1%} ({time.time() - t0:.0f} s)")
    return {"correct": correct.tolist(), "curve": curve, "seconds": round(time.time() - t0, 1)}


class TaskResult(Section):
    """One task: final test accuracy of each method, their paired difference, and the curves."""

    amplified: Estimate
    supervised: Estimate
    gap: Estimate = Field(description="Amplified minus supervised, paired over the same test questions.")
    chance: float = Field(description="Accuracy of always giving the most common test answer.")
    curve: dict = Field(description="step, val accuracy per method, wrong-target fraction per method.")


class AmplificationResults(Section):
    amplification: dict[str, TaskResult]
    size: int = Field(description="Facts per problem where accuracy is measured.")


def task_result(ctx, task: str, a: AmplificationConfig, runs: dict) -> dict:
    world = make_task(task, a)
    test = world.problems(ctx.seed, "test", a.test_questions)
    answers = [world.solve(q) for q in test]
    amp, sup = (np.array(runs[m]["correct"]) for m in METHODS)
    boot = dict(ctx.boot, unit="questions")
    return {
        "amplified": bootstrap_ci(amp, **boot),
        "supervised": bootstrap_ci(sup, **boot),
        "gap": bootstrap_ci(amp - sup, **boot),
        "chance": max(answers.count(x) for x in set(answers)) / len(answers),
        "curve": {
            "step": runs["amplified"]["curve"]["step"],
            **{f"{m}_val_accuracy": runs[m]["curve"]["val_accuracy"] for m in METHODS},
            **{f"{m}_wrong_targets": runs[m]["curve"]["wrong_targets"] for m in METHODS},
            "asked_per_question": runs["amplified"]["curve"]["asked_per_question"],
            "amplified_reach": runs["amplified"]["curve"]["reach"],
        },
    }


def summary(r: dict) -> list[str]:
    return [
        f"amplification, {task} (size {r['size']}): amplified {text_estimate(t['amplified'])}, "
        f"supervised {text_estimate(t['supervised'])}, gap {text_points(t['gap'])}"
        for task, t in r["amplification"].items()
    ]


def headline(r: dict) -> str:
    tasks = r["amplification"].values()
    amp = np.mean([t["amplified"]["mean"] for t in tasks])
    sup = np.mean([t["supervised"]["mean"] for t in tasks])
    return f"amplified {amp:.1%} vs supervised {sup:.1%} (mean over {len(tasks)} tasks)"


@protocol(
    "amplification",
    sections={"amplification": AmplificationConfig},
    results=AmplificationResults,
    summary=summary,
    headline=headline,
    report=amplification_section,
)
def run(ctx, cfg) -> dict:
    a = cfg.amplification
    calls = [
        (f"amplification.{task}.{method}", train_answerer, (task, method, a)) for task in a.tasks for method in METHODS
    ]
    done = iter(ctx.side_by_side(calls))
    runs = {task: {method: next(done) for method in METHODS} for task in a.tasks}
    return {"amplification": {task: task_result(ctx, task, a, runs[task]) for task in a.tasks}, "size": a.sizes[-1]}
