"""Recursive reward modeling on arithmetic chains (Leike et al. 2018, "Scalable agent alignment via
reward modeling").

Question: can a user who can only check short chains train a reward model that judges long chains,
if agents trained at the earlier levels help the user evaluate?

Outcomes to judge are a chain and a claimed result, ``7+5-3-2+8=15``: half true, half off by 1 to 9.
A reward model (``models/char_classifier.py``) reads the outcome and says ``y`` (true) or ``n``.

The simulated user:
- checks a chain of at most ``checkable_steps`` operations exactly (computes it);
- on a longer chain, unassisted, agrees with the truth only with probability ``user_agreement``
  (about 0.7, as people judging hard outcomes agree with each other), independently per outcome.

Levels: level 1 holds chains of 1..s operations (s = ``checkable_steps``), level k > 1 chains of
s*2^(k-2)+1 .. s*2^(k-1). The top level holds the *long chains* where everything is measured.

1. Level 1: reward model RM_1 trained on the user's own (exact) checks.
2. The level-j *assistant* answers "what does this chain give?" with the value its reward model RM_j
   rates highest among all 100 (an agent optimised against the previous reward model).
3. Level k > 1, assisted evaluation of (chain, claim): the assistant of the level that covers the
   first half of the chain states that half's value m; then (chain's first half = m) and
   (m, then the second half = claim) are judged the same way, recursively, until every piece is short
   enough for the user to check. The verdict is true iff every piece checks. RM_k is trained on these
   verdicts. (A chain of exact checks from the start to the claim proves the claim, so assisted
   verdicts never accept a false claim; they reject a true one when an assistant's value is wrong.)
4. On the top level's outcomes, three reward models with the same outcomes, model and steps:
   *recursive* (labels: assisted evaluation), *unassisted* (labels: the user's noisy judgments),
   *ceiling* (labels: the truth). Measured: accuracy on held-out long-chain outcomes (test split),
   and the accuracy of each set of training labels.

Primary endpoint (declared before any run): recursive vs unassisted accuracy on long chains;
expected: recursive higher, and near the ceiling. Exploratory: label accuracies, the lower levels'
reward models and assistants.
"""

from __future__ import annotations

import random
from typing import Callable

import numpy as np
import torch
from pydantic import Field, model_validator

from ...measures import bootstrap_ci
from ...models.char_classifier import CLASSIFIER_SIZES, CharClassifier, Trainer, load_bytes, prob_of, save_bytes
from ...protocol import Section, protocol
from ...report.fmt import text_estimate, text_points
from ...results import Estimate
from ...runtime.progress import log
from ...runtime.store import atomic_write_bytes
from ...worlds.arithmetic import ArithmeticConfig, ArithmeticWorld, Problem, apply_op
from .report import rrm_section

KINDS = ("recursive", "unassisted", "ceiling")


class RRMConfig(Section):
    """Recursive reward modeling on arithmetic chains, against unassisted and ground-truth labels."""

    checkable_steps: int = Field(2, ge=1, description="Longest chain the user checks exactly.")
    levels: int = Field(3, ge=2, le=4, description="Levels; the last holds the long chains measured.")
    user_agreement: float = Field(0.7, ge=0.5, le=1, description="Unassisted user's agreement with the truth on long chains.")
    operators: str = Field("+-", description="Operators of the chains.")
    max_operand: int = Field(9, ge=1)
    train_outcomes: int = Field(2000, ge=10, description="Outcomes labelled per reward model.")
    test_outcomes: int = Field(500, ge=10, description="Held-out long-chain outcomes (test split).")
    model_size: str = Field("micro", description="Reward model size: " + ", ".join(CLASSIFIER_SIZES))
    steps: int = Field(1200, ge=1, description="Optimizer steps per reward model.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "RRMConfig":
        if self.model_size not in CLASSIFIER_SIZES:
            raise ValueError(f"model_size: use one of {', '.join(CLASSIFIER_SIZES)}")
        if self.checkable_steps * 2 ** (self.levels - 2) >= 8:
            raise ValueError("chains have at most 8 operations: lower levels or checkable_steps")
        return self

    def steps_of(self, level: int) -> tuple[int, int]:
        s = self.checkable_steps
        return (1, s) if level == 1 else (s * 2 ** (level - 2) + 1, min(8, s * 2 ** (level - 1)))

    def level_of(self, n_ops: int) -> int:
        return next(k for k in range(1, self.levels + 1) if n_ops <= self.steps_of(k)[1])


MODULUS = 100
ANSWERS = list(range(MODULUS))


def world(r: RRMConfig, level: int) -> ArithmeticWorld:
    lo, hi = r.steps_of(level)
    return ArithmeticWorld(ArithmeticConfig(min_steps=lo, max_steps=hi, operators=r.operators,
                                            max_operand=r.max_operand, modulus=MODULUS))


def outcome_text(start: int, ops, claim: int) -> str:
    return f"{start}" + "".join(f"{op}{b}" for op, b in ops) + f"={claim}"


def evaluate(start: int, ops) -> int:
    value = start
    for op, b in ops:
        value = apply_op(value, op, b, MODULUS)
    return value


def outcomes(r: RRMConfig, level: int, seed: int, split: str, n: int) -> list[tuple[Problem, int, bool]]:
    """(chain, claim, claim is true): half true, half off by 1..9 (mod 100). Training outcomes may
    repeat a chain (there are only about 2,000 chains of 1-2 operations); the long chains' test
    outcomes are distinct."""
    problems = world(r, level).problems(seed, split, n, distinct=split == "test" and level == r.levels)
    rng = random.Random(f"rrm-claims:{seed}:{level}:{split}")
    out = []
    for p in problems:
        true = rng.random() < 0.5
        claim = p.answer if true else (p.answer + rng.choice([-1, 1]) * rng.randint(1, 9)) % MODULUS
        out.append((p, claim, true))
    return out


# -- the user ------------------------------------------------------------------------------------
def user_checks(start: int, ops, claim: int) -> bool:
    """The user's own check of a short chain: exact."""
    return evaluate(start, ops) == claim


def user_unassisted(truth: list[bool], agreement: float, rng: random.Random) -> list[bool]:
    """The user's judgment of long chains they cannot check: right with probability ``agreement``."""
    return [t if rng.random() < agreement else not t for t in truth]


# -- assistants and assisted evaluation ---------------------------------------------------------
def assistant_values(model: CharClassifier, chains: list[tuple[int, tuple]]) -> list[int]:
    """The value each chain gives, as the reward model's best-rated claim among all 100."""
    if not chains:
        return []
    texts = [outcome_text(s, ops, v) for s, ops in chains for v in ANSWERS]
    scores = prob_of(model, texts, "y", "yn").view(len(chains), MODULUS)
    return scores.argmax(-1).tolist()


def assisted_verdicts(r: RRMConfig, value_of: Callable[[int, list], list[int]], items: list[tuple[int, tuple, int]],
                      stats: dict) -> list[bool]:
    """Judge (start, ops, claim) items: short ones by the user; longer ones split in two at the value
    ``value_of(level, chains)`` states (the assistant of the first half's level), each half judged
    the same way."""
    verdicts: list[bool | None] = [None] * len(items)
    long = [i for i, (s, ops, c) in enumerate(items) if len(ops) > r.checkable_steps]
    for i, (s, ops, c) in enumerate(items):
        if len(ops) <= r.checkable_steps:
            verdicts[i] = user_checks(s, ops, c)
            stats["user_checks"] = stats.get("user_checks", 0) + 1
    mids: dict[int, int] = {}
    by_level: dict[int, list[int]] = {}
    for i in long:
        by_level.setdefault(r.level_of(len(items[i][1]) // 2), []).append(i)
    for level, idx in by_level.items():
        firsts = [(items[i][0], items[i][1][: len(items[i][1]) // 2]) for i in idx]
        values = value_of(level, firsts)
        for i, (s, half), v in zip(idx, firsts, values):
            mids[i] = v
            right = v == evaluate(s, half)
            stats.setdefault(f"assistant_level{level}", []).append(right)
    firsts = [(items[i][0], items[i][1][: len(items[i][1]) // 2], mids[i]) for i in long]
    seconds = [(mids[i], items[i][1][len(items[i][1]) // 2:], items[i][2]) for i in long]
    if long:
        halves = assisted_verdicts(r, value_of, firsts + seconds, stats)
        for j, i in enumerate(long):
            verdicts[i] = halves[j] and halves[len(long) + j]
    return verdicts


# -- reward models ---------------------------------------------------------------------------------
def train_reward_model(ctx, r: RRMConfig, texts: list[str], labels: list[bool], tag: str) -> CharClassifier:
    torch.manual_seed(ctx.derive("rrm-rm", tag))
    model = CharClassifier(r.model_size)
    trainer = Trainer(model, r.steps, r.lr)
    rng = np.random.default_rng(ctx.derive("rrm-batches", tag))
    answers = ["y" if y else "n" for y in labels]
    for _ in range(r.steps):
        idx = rng.integers(0, len(texts), r.batch_size)
        trainer.step([texts[i] for i in idx], [answers[i] for i in idx], ["yn"] * len(idx))
    return model.eval()


def rm_accuracy(model: CharClassifier, items: list[tuple[Problem, int, bool]]) -> np.ndarray:
    texts = [outcome_text(p.start, p.ops, c) for p, c, _ in items]
    said = (prob_of(model, texts, "y", "yn") > 0.5).numpy()
    return (said == np.array([t for _, _, t in items])).astype(float)


def save_model(ctx, model: CharClassifier, stem: str) -> str:
    path = ctx.artifact(f"models/{stem}") + ".pt"
    atomic_write_bytes(ctx.file(path), save_bytes(model))
    return path


def train_level(ctx, r: RRMConfig, level: int, kind: str, lower: dict) -> dict:
    """Stage: a reward model for ``level``'s outcomes from ``kind`` labels; ``lower`` maps each lower
    level to its recursive reward model's file (the assistants, for recursive labels)."""
    items = outcomes(r, level, ctx.seed, "overseer", r.train_outcomes)
    truth = [t for _, _, t in items]
    stats: dict = {}
    if kind == "ceiling":
        labels = truth
    elif kind == "unassisted" and level > 1:
        labels = user_unassisted(truth, r.user_agreement, random.Random(f"rrm-user:{ctx.seed}:{level}"))
    else:  # the user's own checks on level 1, assisted evaluation above it
        assistants = {int(k): load_bytes(ctx.file(path).read_bytes()) for k, path in lower.items()}
        labels = assisted_verdicts(r, lambda level, chains: assistant_values(assistants[level], chains),
                                   [(p.start, p.ops, c) for p, c, _ in items], stats)
    texts = [outcome_text(p.start, p.ops, c) for p, c, _ in items]
    model = train_reward_model(ctx, r, texts, labels, f"{level}:{kind}")
    test = outcomes(r, level, ctx.seed, "test", r.test_outcomes)
    correct = rm_accuracy(model, test)
    label_acc = float(np.mean([a == b for a, b in zip(labels, truth)]))
    log(f"rrm level {level} {kind}: labels right {label_acc:.1%}, reward model accuracy {correct.mean():.1%}")
    return {"path": save_model(ctx, model, f"rrm_level{level}_{kind}"), "correct": correct.tolist(),
            "label_accuracy": label_acc,
            "assistant_accuracy": {k: float(np.mean(v)) for k, v in stats.items() if k.startswith("assistant")}}


class LongChains(Section):
    """Accuracy of each long-chain reward model on held-out outcomes (balanced: chance 50%)."""

    recursive: Estimate
    unassisted: Estimate
    ceiling: Estimate
    recursive_minus_unassisted: Estimate = Field(description="Paired over the same test outcomes.")
    label_accuracy: dict[str, float] = Field(description="Share of each reward model's training labels that were right.")
    lower_levels: dict[str, Estimate] = Field(description="The recursive reward model of each lower level, on its own level.")
    assistant_accuracy: dict[str, float] = Field(description="Share of values the assistants stated that were right.")
    long_chain_steps: list[int]


class RRMResults(Section):
    rrm: LongChains


def summary(r: dict) -> list[str]:
    m = r["rrm"]
    return [f"rrm, long chains ({m['long_chain_steps'][0]}-{m['long_chain_steps'][1]} ops): recursive "
            f"{text_estimate(m['recursive'])}, unassisted {text_estimate(m['unassisted'])}, ceiling "
            f"{text_estimate(m['ceiling'])}; recursive - unassisted {text_points(m['recursive_minus_unassisted'])}"]


def headline(r: dict) -> str:
    m = r["rrm"]
    return f"recursive {m['recursive']['mean']:.1%}, unassisted {m['unassisted']['mean']:.1%}, ceiling {m['ceiling']['mean']:.1%}"


@protocol("rrm", sections={"rrm": RRMConfig}, results=RRMResults, summary=summary, headline=headline, report=rrm_section)
def run(ctx, cfg) -> dict:
    r = cfg.rrm
    top = r.levels
    ceiling, unassisted = ctx.side_by_side([(f"rrm.level{top}.{kind}", train_level, (r, top, kind, {}))
                                            for kind in ("ceiling", "unassisted")])
    lower: dict = {}
    recursive_levels = {}
    for level in range(1, top + 1):
        res = ctx.stage(f"rrm.level{level}.recursive", train_level, r, level, "recursive", dict(lower))
        recursive_levels[level] = res
        lower[str(level)] = res["path"]
    rec = recursive_levels[top]
    boot = dict(ctx.boot, unit="outcomes")
    arrays = {"recursive": np.array(rec["correct"]), "unassisted": np.array(unassisted["correct"]),
              "ceiling": np.array(ceiling["correct"])}
    assistant = {}
    for res in recursive_levels.values():
        assistant.update(res["assistant_accuracy"])
    return {"rrm": {
        **{k: bootstrap_ci(v, **boot) for k, v in arrays.items()},
        "recursive_minus_unassisted": bootstrap_ci(arrays["recursive"] - arrays["unassisted"], **boot),
        "label_accuracy": {"recursive": rec["label_accuracy"], "unassisted": unassisted["label_accuracy"],
                           "ceiling": ceiling["label_accuracy"]},
        "lower_levels": {f"level{k}": bootstrap_ci(v["correct"], **boot) for k, v in recursive_levels.items() if k < top},
        "assistant_accuracy": assistant,
        "long_chain_steps": list(r.steps_of(top)),
    }}
