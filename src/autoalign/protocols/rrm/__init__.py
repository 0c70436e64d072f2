"""Recursive reward modeling on arithmetic chains and countdown (Leike et al. 2018, "Scalable agent
alignment via reward modeling").

Question: can a user who can only check short chains train a reward model that judges long chains,
if agents trained at the earlier levels help the user evaluate?

Outcomes to judge are a chain and a claimed result, ``7+5-3-2+8=15`` (an arithmetic chain, or a
countdown solution in left-to-right form: ``chains.py``): half true, half off by 1 to 9. A reward
model reads the outcome and says how likely the claim is true (``reward_model.py``: a causal char LM
pretrained on unlabelled true outcomes, the same start for every reward model, read through a
log-likelihood head fine-tuned on the level's labels).

The simulated user:
- checks a chain of at most ``checkable_steps`` operations exactly (computes it);
- on a longer chain, unassisted, agrees with the truth only with probability ``user_agreement``
  (about 0.7, as people judging hard outcomes agree with each other), independently per outcome.

Levels: level 1 holds chains of 1..s operations (s = ``checkable_steps``), level k > 1 chains of
s*2^(k-2)+1 .. s*2^(k-1). The top level holds the *long chains* where everything is measured.

1. Level 1: reward model RM_1 trained on the user's own (exact) checks.
2. The level-j *assistant* answers "what does this chain give?" with the value its reward model
   RM_j rates highest among all 100 (an agent optimised against the previous reward model).
3. Level k > 1, assisted evaluation of (chain, claim): the assistant of the level that covers the
   first half of the chain states that half's value m; then (chain's first half = m) and
   (m, then the second half = claim) are judged the same way, recursively, until every piece is short
   enough for the user to check. The verdict is true iff every piece checks. RM_k is trained on these
   verdicts. (A chain of exact checks from the start to the claim proves the claim, so assisted
   verdicts never accept a false claim; they reject a true one when an assistant's value is wrong.)
4. On the top level's outcomes, three reward models with the same backbone start, outcomes and
   steps: *recursive* (labels: assisted evaluation), *unassisted* (labels: the user's noisy
   judgments), *ceiling* (labels: the truth). Measured: accuracy on held-out long-chain outcomes
   (``eval_split``: ``test`` for results, ``val`` while tuning), and the accuracy of each set of
   training labels.

Primary endpoint (declared before any run): recursive vs unassisted accuracy on long chains;
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
from .chains import (
    ANSWERS,
    MODULUS,
    Chain,
    assisted_verdicts,
    claims,
    evaluate,
    outcome_text,
    pieces,
    user_checks,
    user_unassisted,
)
from .config import LongChains, RRMConfig, RRMResults
from .report import rrm_section
from .reward_model import (
    assistant_values,
    load_reward_model,
    outcome_item,
    p_true,
    pretrain,
    save_reward_model,
    train_reward_model,
)

__all__ = ["ANSWERS", "MODULUS", "Chain", "LongChains", "RRMConfig", "RRMResults", "assisted_verdicts", "evaluate",
           "outcome_text", "outcomes", "user_checks", "user_unassisted"]
KINDS = ("recursive", "unassisted", "ceiling")


def outcomes(r: RRMConfig, level: int, seed: int, split: str, n: int) -> list[tuple[object, int, bool]]:
    """(chain, claim, claim is true) of ``level``'s lengths, each chain a window of a longer one
    (``chains.pieces``): half true, half off by 1..9 (mod 100). Training outcomes may repeat a chain;
    the long chains' held-out outcomes are distinct."""
    lo, hi = r.steps_of(level)
    chains = pieces(r, lo, hi, seed, split, n, tag=("outcomes", level), distinct=split != "overseer" and level == r.levels)
    return claims(chains, random.Random(f"rrm-claims:{seed}:{level}:{split}"))


def rm_accuracy(clf, tokenizer, items) -> np.ndarray:
    said = p_true(clf, tokenizer, [outcome_item(p.start, p.ops, c) for p, c, _ in items]) > 0.5
    return (said == np.array([t for _, _, t in items])).astype(float)


def train_level(ctx, r: RRMConfig, level: int, kind: str, lm: dict, lower: dict) -> dict:
    """Stage: a reward model for ``level``'s outcomes from ``kind`` labels, fine-tuned from the
    pretrained backbone ``lm``; ``lower`` maps each lower level to its recursive reward model's file
    (the assistants, for recursive labels)."""
    items = outcomes(r, level, ctx.seed, "overseer", r.train_outcomes)
    truth = [t for _, _, t in items]
    stats: dict = {}
    if kind == "ceiling":
        labels = truth
    elif kind == "unassisted" and level > 1:
        labels = user_unassisted(truth, r.user_agreement, random.Random(f"rrm-user:{ctx.seed}:{level}"))
    else:  # the user's own checks on level 1, assisted evaluation above it
        assistants = {int(k): load_reward_model(ctx, lm, path) for k, path in lower.items()}
        labels = assisted_verdicts(r, lambda j, chains: assistant_values(*assistants[j], chains),
                                   [(p.start, p.ops, c) for p, c, _ in items], stats)
    clf, tokenizer = train_reward_model(ctx, r, lm, [outcome_item(p.start, p.ops, c) for p, c, _ in items], labels,
                                        f"{level}:{kind}")
    correct = rm_accuracy(clf, tokenizer, outcomes(r, level, ctx.seed, r.eval_split, r.test_outcomes))
    label_acc = float(np.mean([a == b for a, b in zip(labels, truth)]))
    log(f"rrm level {level} {kind}: labels right {label_acc:.1%}, reward model accuracy ({r.eval_split}) "
        f"{correct.mean():.1%}")
    return {"path": save_reward_model(ctx, clf, f"rrm_level{level}_{kind}"), "correct": correct.tolist(),
            "label_accuracy": label_acc,
            "assistant_accuracy": {k: float(np.mean(v)) for k, v in stats.items() if k.startswith("assistant")}}


def summary(r: dict) -> list[str]:
    m = r["rrm"]
    return [(f"rrm ({m.get('world', 'arithmetic')}), long chains ({m['long_chain_steps'][0]}-{m['long_chain_steps'][1]} "
            f"ops): recursive {text_estimate(m['recursive'])}, unassisted {text_estimate(m['unassisted'])}, ceiling "
            f"{text_estimate(m['ceiling'])}; recursive - unassisted {text_points(m['recursive_minus_unassisted'])}")]


def headline(r: dict) -> str:
    m = r["rrm"]
    return f"recursive {m['recursive']['mean']:.1%}, unassisted {m['unassisted']['mean']:.1%}, ceiling {m['ceiling']['mean']:.1%}"


@protocol("rrm", sections={"rrm": RRMConfig}, results=RRMResults, summary=summary, headline=headline, report=rrm_section)
def run(ctx, cfg) -> dict:
    r = cfg.rrm
    top = r.levels
    lm = ctx.stage("rrm.pretrain", pretrain, r)
    # one after the other, each with every thread (side by side, on a 2-core machine, is no faster)
    ceiling, unassisted = (ctx.stage(f"rrm.level{top}.{kind}", train_level, r, top, kind, lm, {})
                           for kind in ("ceiling", "unassisted"))
    lower: dict = {}
    recursive_levels = {}
    for level in range(1, top + 1):
        res = ctx.stage(f"rrm.level{level}.recursive", train_level, r, level, "recursive", lm, dict(lower))
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
        "recursive_minus_ceiling": bootstrap_ci(arrays["recursive"] - arrays["ceiling"], **boot),
        "label_accuracy": {"recursive": rec["label_accuracy"], "unassisted": unassisted["label_accuracy"],
                           "ceiling": ceiling["label_accuracy"]},
        "lower_levels": {f"level{k}": bootstrap_ci(v["correct"], **boot) for k, v in recursive_levels.items() if k < top},
        "assistant_accuracy": assistant,
        "long_chain_steps": list(r.steps_of(top)),
        "world": r.world,
        "eval_split": r.eval_split,
    }}
