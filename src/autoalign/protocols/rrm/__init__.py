"""Recursive reward modeling on any world (Leike et al. 2018, "Scalable agent alignment via reward
modeling").

Question: can a user who can only check short pieces of work train a reward model that judges long
ones, if agents trained at the earlier levels help the user evaluate?

Outcomes to judge are a piece of a problem's work and a claimed result (``outcomes.py``), half right,
half wrong: on worlds whose problems are number chains (arithmetic, countdown solutions written left
to right) a chain from any value and its claimed value, ``7+5-3-2+8=15`` (``chains.py``); on any world
with text solutions and planted flaws, a stretch of a gold solution and its claimed last step, the
steps in between hidden (``stretches.py``). A reward model reads the outcome and says how likely the
claim is right (``reward_model.py``: a causal char LM pretrained on unlabelled right outcomes, the
same start for every reward model, read through a log-likelihood head fine-tuned on the level's
labels).

The simulated user (``evaluation.py``):
- checks a piece of at most ``checkable_steps`` steps exactly;
- on a longer one, unassisted, agrees with the truth only with probability ``user_agreement``
  (about 0.7, as people judging hard outcomes agree with each other), independently per outcome.

Levels: level 1 holds pieces of 1..s steps (s = ``checkable_steps``), level k > 1 pieces of
s*2^(k-2)+1 .. s*2^(k-1). The top level holds the *long* outcomes where everything is measured.

1. Level 1: reward model RM_1 trained on the user's own (exact) checks.
2. The level-j *assistant* answers "what does this piece reach?" with the option its reward model
   RM_j rates highest (an agent optimised against the previous reward model).
3. Level k > 1, assisted evaluation of (piece, claim): the assistant of the level that covers the
   first half of the piece states what that half reaches, m; then (first half, m) and (the rest from
   m, claim) are judged the same way, recursively, until every part is short enough for the user to
   check. The verdict is right iff every part checks. RM_k is trained on these verdicts. (A chain
   of exact checks from the start to the claim proves the claim, so assisted verdicts never accept
   a wrong claim; they reject a right one when an assistant's statement is wrong.)
4. On the top level's outcomes, three reward models with the same backbone start, outcomes and
   steps: *recursive* (labels: assisted evaluation), *unassisted* (labels: the user's noisy
   judgments), *ceiling* (labels: the truth). Measured: accuracy on held-out long outcomes
   (``eval_split``: ``test`` for results, ``val`` while tuning), and the accuracy of each set of
   training labels.

Primary endpoint (declared before any run): recursive vs unassisted accuracy on long outcomes;
expected: recursive higher, and near the ceiling. Exploratory: recursive vs ceiling, the ceiling
above chance (can this reward model learn the check at all?), label accuracies, the lower levels'
reward models and assistants. The configs list them under ``endpoints:``.
"""

from __future__ import annotations

import random

import numpy as np

from ...measures import bootstrap_ci
from ...protocol import protocol
from ...report.fmt import text_estimate, text_points
from ...runtime.progress import log
from .chains import Chain, ChainOutcomes, outcome_text
from .config import LongChains, RRMConfig, RRMResults
from .evaluation import assisted_verdicts, user_unassisted
from .outcomes import END, Outcome, Outcomes, claims
from .report import rrm_section
from .reward_model import (
    assistant_values,
    load_reward_model,
    p_true,
    pretrain,
    save_reward_model,
    train_reward_model,
)
from .sources import make_outcomes
from .stretches import SolutionStretches, Stretch

__all__ = [
    "END",
    "Chain",
    "ChainOutcomes",
    "LongChains",
    "Outcome",
    "Outcomes",
    "RRMConfig",
    "RRMResults",
    "SolutionStretches",
    "Stretch",
    "assisted_verdicts",
    "make_outcomes",
    "outcome_text",
    "outcomes",
    "user_unassisted",
]
KINDS = ("recursive", "unassisted", "ceiling")


def outcomes(r: RRMConfig, level: int, seed: int, split: str, n: int, source: Outcomes | None = None) -> list[tuple]:
    """(piece, claim, claim is right) of ``level``'s lengths: half right, half wrong. Training outcomes
    may repeat a piece; the long outcomes' held-out ones are distinct."""
    source = source or make_outcomes(r)
    lo, hi = r.steps_of(level)
    pieces = source.pieces(
        lo, hi, seed, split, n, tag=("outcomes", level), distinct=split != "overseer" and level == r.levels
    )
    return claims(source, pieces, random.Random(f"rrm-claims:{seed}:{level}:{split}"))


def rm_accuracy(source: Outcomes, clf, tokenizer, items) -> np.ndarray:
    said = p_true(clf, tokenizer, [source.item(p, c) for p, c, _ in items]) > 0.5
    return (said == np.array([t for _, _, t in items])).astype(float)


def train_level(ctx, r: RRMConfig, level: int, kind: str, lm: dict, lower: dict) -> dict:
    """Stage: a reward model for ``level``'s outcomes from ``kind`` labels, fine-tuned from the
    pretrained backbone ``lm``; ``lower`` maps each lower level to its recursive reward model's file
    (the assistants, for recursive labels)."""
    source = make_outcomes(r)
    items = outcomes(r, level, ctx.seed, "overseer", r.train_outcomes, source)
    truth = [t for _, _, t in items]
    stats: dict = {}
    if kind == "ceiling":
        labels = truth
    elif kind == "unassisted" and level > 1:
        labels = user_unassisted(truth, r.user_agreement, random.Random(f"rrm-user:{ctx.seed}:{level}"), r.user_noise)
    else:  # the user's own checks on level 1, assisted evaluation above it
        assistants = {int(k): load_reward_model(ctx, lm, path) for k, path in lower.items()}
        labels = assisted_verdicts(
            r,
            source,
            lambda j, pieces: assistant_values(source, *assistants[j], pieces),
            [(p, c) for p, c, _ in items],
            stats,
        )
    clf, tokenizer = train_reward_model(ctx, r, lm, [source.item(p, c) for p, c, _ in items], labels, f"{level}:{kind}")
    held_out = outcomes(r, level, ctx.seed, r.eval_split, r.test_outcomes, source)
    correct = rm_accuracy(source, clf, tokenizer, held_out)
    label_acc = float(np.mean([a == b for a, b in zip(labels, truth)]))
    log(
        f"rrm level {level} {kind}: labels right {label_acc:.1%}, reward model accuracy ({r.eval_split}) "
        f"{correct.mean():.1%}"
    )
    return {
        "path": save_reward_model(ctx, clf, f"rrm_level{level}_{kind}"),
        "correct": correct.tolist(),
        "label_accuracy": label_acc,
        "assistant_accuracy": {k: float(np.mean(v)) for k, v in stats.items() if k.startswith("assistant")},
    }


def summary(r: dict) -> list[str]:
    m = r["rrm"]
    unit = "steps" if m.get("outcomes") == "solutions" else "ops"
    fewest, most = m["long_chain_steps"]
    return [
        (
            f"rrm ({m.get('world', 'arithmetic')}), long outcomes ({fewest}-{most} {unit}): "
            f"recursive {text_estimate(m['recursive'])}, unassisted {text_estimate(m['unassisted'])}, "
            f"ceiling {text_estimate(m['ceiling'])}; "
            f"recursive - unassisted {text_points(m['recursive_minus_unassisted'])}"
        )
    ]


def headline(r: dict) -> str:
    m = r["rrm"]
    return (
        f"recursive {m['recursive']['mean']:.1%}, unassisted {m['unassisted']['mean']:.1%}, "
        f"ceiling {m['ceiling']['mean']:.1%}"
    )


@protocol(
    "rrm", sections={"rrm": RRMConfig}, results=RRMResults, summary=summary, headline=headline, report=rrm_section
)
def run(ctx, cfg) -> dict:
    r = cfg.rrm
    top = r.levels
    lm = ctx.stage("rrm.pretrain", pretrain, r)
    # one after the other, each with every thread (side by side, on a 2-core machine, is no faster)
    ceiling, unassisted = (
        ctx.stage(f"rrm.level{top}.{kind}", train_level, r, top, kind, lm, {}) for kind in ("ceiling", "unassisted")
    )
    lower: dict = {}
    recursive_levels = {}
    for level in range(1, top + 1):
        res = ctx.stage(f"rrm.level{level}.recursive", train_level, r, level, "recursive", lm, dict(lower))
        recursive_levels[level] = res
        lower[str(level)] = res["path"]
    rec = recursive_levels[top]
    boot = dict(ctx.boot, unit="outcomes")
    arrays = {
        "recursive": np.array(rec["correct"]),
        "unassisted": np.array(unassisted["correct"]),
        "ceiling": np.array(ceiling["correct"]),
    }
    assistant = {}
    for res in recursive_levels.values():
        assistant.update(res["assistant_accuracy"])
    return {
        "rrm": {
            **{k: bootstrap_ci(v, **boot) for k, v in arrays.items()},
            "recursive_minus_unassisted": bootstrap_ci(arrays["recursive"] - arrays["unassisted"], **boot),
            "recursive_minus_ceiling": bootstrap_ci(arrays["recursive"] - arrays["ceiling"], **boot),
            "label_accuracy": {
                "recursive": rec["label_accuracy"],
                "unassisted": unassisted["label_accuracy"],
                "ceiling": ceiling["label_accuracy"],
            },
            "lower_levels": {
                f"level{k}": bootstrap_ci(v["correct"], **boot) for k, v in recursive_levels.items() if k < top
            },
            "assistant_accuracy": assistant,
            "long_chain_steps": list(r.steps_of(top)),
            "world": r.world.name,
            "outcomes": r.outcome_kind,
            "eval_split": r.eval_split,
        }
    }
