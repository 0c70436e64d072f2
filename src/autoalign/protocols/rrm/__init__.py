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
2. The level-j *assistant* answers "what does this piece reach?": with ``rrm.agents: argmax`` (the
   default), the option its reward model RM_j rates highest (the limit of an agent optimised
   against RM_j); with ``trained``, a policy trained with RLOO against RM_j states it
   (``agents.py``: Leike et al.'s agents).
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

The user's noise is swept with ``rrm.noise_sweep``: it enters only the unassisted labels (the user's
checks of short pieces are exact by design), so the recursive and ceiling reward models are trained
once and every unassisted user's reward model is compared with them on the same held-out outcomes,
from the same labelling stream, head start and batches (they differ by the noise alone).

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
from .agents import agent_values, load_agent, train_agent
from .chains import Chain, ChainOutcomes, outcome_text
from .config import LongChains, NoiseSetting, RRMConfig, RRMResults
from .evaluation import assisted_verdicts, user_unassisted
from .outcomes import END, Outcome, Outcomes
from .report import rrm_section
from .reward_model import (
    assistant_values,
    load_reward_model,
    p_true,
    pretrain,
    save_reward_model,
    train_reward_model,
)
from .sources import make_outcomes, outcomes
from .stretches import SolutionStretches, Stretch

__all__ = [
    "END",
    "Chain",
    "ChainOutcomes",
    "LongChains",
    "NoiseSetting",
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


def rm_accuracy(source: Outcomes, clf, tokenizer, items) -> np.ndarray:
    said = p_true(clf, tokenizer, [source.item(p, c) for p, c, _ in items]) > 0.5
    return (said == np.array([t for _, _, t in items])).astype(float)


def train_level(ctx, r: RRMConfig, level: int, kind: str, lm: dict, lower: dict, noise: NoiseSetting | None = None):
    """Stage: a reward model for ``level``'s outcomes from ``kind`` labels, fine-tuned from the
    pretrained backbone ``lm``; ``lower`` maps each lower level to its assistant's file (its
    recursive reward model's, or with ``rrm.agents: trained`` its agent's), for recursive labels;
    ``noise``: the unassisted user (default: ``rrm.user_noise`` at ``rrm.user_agreement``)."""
    source = make_outcomes(r)
    items = outcomes(r, level, ctx.seed, "overseer", r.train_outcomes, source)
    truth = [t for _, _, t in items]
    stats: dict = {}
    if kind == "ceiling":
        labels = truth
    elif kind == "unassisted" and level > 1:
        user = noise or r.base_noise
        rng = random.Random(f"rrm-user:{ctx.seed}:{level}")  # one stream for every user: they differ by noise only
        labels = user_unassisted(truth, user.user_agreement, rng, user.user_noise)
    else:  # the user's own checks on level 1, assisted evaluation above it
        labels = assisted_verdicts(
            r, source, assistants(ctx, r, source, lm, lower), [(p, c) for p, c, _ in items], stats
        )
    clf, tokenizer = train_reward_model(ctx, r, lm, [source.item(p, c) for p, c, _ in items], labels, f"{level}:{kind}")
    held_out = outcomes(r, level, ctx.seed, r.eval_split, r.test_outcomes, source)
    correct = rm_accuracy(source, clf, tokenizer, held_out)
    label_acc = float(np.mean([a == b for a, b in zip(labels, truth)]))
    who = f"{kind} ({noise.name})" if noise else kind
    log(
        f"rrm level {level} {who}: labels right {label_acc:.1%}, reward model accuracy ({r.eval_split}) "
        f"{correct.mean():.1%}"
    )
    stem = f"rrm_level{level}_{kind}" + (f"_{noise.name}" if noise else "")
    return {
        "path": save_reward_model(ctx, clf, stem),
        "correct": correct.tolist(),
        "label_accuracy": label_acc,
        "assistant_accuracy": {k: float(np.mean(v)) for k, v in stats.items() if k.startswith("assistant")},
    }


def assistants(ctx, r: RRMConfig, source: Outcomes, lm: dict, lower: dict):
    """``value_of(level, pieces)``: what the assistant of ``level`` states each piece reaches."""
    if r.agents == "trained":
        agents = {int(k): load_agent(ctx, path) for k, path in lower.items()}
        return lambda j, pieces: agent_values(source, *agents[j], pieces)
    models = {int(k): load_reward_model(ctx, lm, path) for k, path in lower.items()}
    return lambda j, pieces: assistant_values(source, *models[j], pieces)


def sweep_rows(r: RRMConfig, rec: np.ndarray, ceiling: np.ndarray, users: dict, boot: dict) -> dict:
    """Per unassisted user of the sweep: its reward model beside the recursive and ceiling ones, paired
    over the same held-out outcomes."""
    rows = {}
    for s in r.noise_sweep:
        un = np.array(users[s.name]["correct"])
        rows[s.name] = {
            "user_noise": s.user_noise,
            "user_agreement": s.user_agreement,
            "unassisted": bootstrap_ci(un, **boot),
            "recursive_minus_unassisted": bootstrap_ci(rec - un, **boot),
            "ceiling_minus_unassisted": bootstrap_ci(ceiling - un, **boot),
            "label_accuracy": users[s.name]["label_accuracy"],
        }
    return rows


def agent_rows(agents: dict) -> dict:
    rows = {}
    for level, a in agents.items():
        first, last = a["checkpoints"][0], a["checkpoints"][-1]
        rows[f"level{level}"] = {
            "reward_before": first["reward"],
            "reward_after": last["reward"],
            "greedy_reward_before": first["greedy_reward"],
            "greedy_reward_after": last["greedy_reward"],
            "right_before": first["right"],
            "right_after": last["right"],
            "reward_gain": round(last["reward"] - first["reward"], 5),
            "right_gain": round(last["right"] - first["right"], 5),
            "argmax_right": a["argmax_right"],
            "argmax_reward": a["argmax_reward"],
            "valid_after": last["valid"],
            "kl": a["steps"][-1]["kl"],
        }
    return rows


def summary(r: dict) -> list[str]:
    m = r["rrm"]
    unit = "steps" if m.get("outcomes") == "solutions" else "ops"
    fewest, most = m["long_chain_steps"]
    lines = [
        (
            f"rrm ({m.get('world', 'arithmetic')}), long outcomes ({fewest}-{most} {unit}): "
            f"recursive {text_estimate(m['recursive'])}, unassisted {text_estimate(m['unassisted'])}, "
            f"ceiling {text_estimate(m['ceiling'])}; "
            f"recursive - unassisted {text_points(m['recursive_minus_unassisted'])}"
        )
    ]
    for level, a in (m.get("agent_training") or {}).items():
        lines.append(
            f"rrm agent {level}: reward {a['reward_before']:.3f} -> {a['reward_after']:.3f} (stated "
            f"{a['greedy_reward_before']:.3f} -> {a['greedy_reward_after']:.3f}; argmax assistant "
            f"{a['argmax_reward']:.3f}), statements right {a['right_before']:.1%} -> {a['right_after']:.1%} "
            f"(argmax assistant {a['argmax_right']:.1%}), KL {a['kl']:.3f}"
        )
    for name, row in (m.get("noise_sweep") or {}).items():
        lines.append(
            f"rrm user {name}: unassisted {text_estimate(row['unassisted'])} (labels right "
            f"{row['label_accuracy']:.1%}); recursive - unassisted {text_points(row['recursive_minus_unassisted'])}"
        )
    return lines


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
    users = {
        s.name: unassisted
        if s == r.base_noise
        else ctx.stage(f"rrm.level{top}.unassisted.{s.name}", train_level, r, top, "unassisted", lm, {}, s)
        for s in r.noise_sweep
    }
    lower: dict = {}
    recursive_levels, agents = {}, {}
    for level in range(1, top + 1):
        res = ctx.stage(f"rrm.level{level}.recursive", train_level, r, level, "recursive", lm, dict(lower))
        recursive_levels[level] = res
        lower[str(level)] = res["path"]
        if r.agents == "trained" and level < top:
            agents[level] = ctx.stage(f"rrm.level{level}.agent", train_agent, r, level, lm, res["path"])
            lower[str(level)] = agents[level]["path"]
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
            "agents": r.agents,
            "noise_sweep": sweep_rows(r, arrays["recursive"], arrays["ceiling"], users, boot),
            "agent_training": agent_rows(agents),
        }
    }
