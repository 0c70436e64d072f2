"""RRM's trained agents (``rrm.agents: trained``): each level's assistant is a policy optimized
against that level's reward model, and what it writes is what it states to the next level's user.

Leike et al. (2018) train, at each level, an agent with RL against the reward model learned there,
and that agent helps the user evaluate the next level's outcomes. In RRM's task the help is one
statement, "this piece reaches v" (a chain's value, a stretch's step), among the piece's options.
So an agent is a causal LM that reads a piece as a reward model reads it (``7+5-3=``) and writes a
statement and END (``9;``); its reward is RM_j's P(right) of (piece, statement). A text that is not
one of the piece's options earns 0, and, when the agent assists, states nothing: the user cannot
split the piece and rejects it (``evaluation.py``), as they would a wrong statement.

Why RLOO and not expert iteration: an agent's action is one short sequence with a scalar reward (a
bandit per piece), where RLOO's leave-one-out baseline over K statements per piece is the standard
estimator, and its KL penalty keeps the agent a regularized optimizer of RM_j near its start, as an
RL agent against a learned reward is. Expert iteration (sample N, distil RM_j's pick) has no KL
control and tends, as N grows, to the argmax assistant that ``rrm.agents: argmax`` already is.

Where an agent starts: from the backbone every reward model starts from, the causal LM pretrained on
unlabelled right outcomes, which already writes statements (it learned ``piece=value;``). Its
statements before and after RLOO, and the argmax assistant's, are measured on the held-out pieces of
its level where RM_j is measured, so a reader can tell what pretraining gave from what optimizing
against RM_j added or took away. Training pieces come from the unlabelled ``train`` split.

The reward sees an :class:`Ask` only (the piece's text and its options written as claims), never a
piece's value. When it assists, an agent states its greedy statement (temperature 0): its policy's
mode, as the argmax assistant states its reward model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...models import load_pretrained
from ...models.device import place
from ...optimization.policy import sample
from ...optimization.rloo import rloo
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir
from .outcomes import Outcome, Outcomes
from .reward_model import assistant_values, load_reward_model, p_true
from .sources import make_outcomes, outcomes


@dataclass(frozen=True)
class Ask:
    """What an agent and its reward see of a piece: ``prompt``, the piece as a reward model reads it,
    and ``bodies``, each of its options written as a claim (``9;``)."""

    prompt: str
    bodies: tuple[str, ...]


def asks(source: Outcomes, pieces: list) -> list[Ask]:
    out = []
    for p in pieces:
        options = source.options(p)
        out.append(Ask(source.item(p, options[0]).prompt, tuple(source.item(p, o).body for o in options)))
    return out


def longest_statement(items: list[Ask]) -> int:
    """Tokens an agent may write: the longest option (one character a token) and the end token."""
    return max(len(b) for a in items for b in a.bodies) + 1


class RewardModelReward:
    """A level's reward model as an agent's reward: P(right) of (piece, statement); 0 for a text that
    is not one of the piece's options."""

    def __init__(self, clf, tokenizer):
        self.clf, self.tokenizer = clf, tokenizer

    def __call__(self, items: list[Ask], texts: list[str]) -> np.ndarray:
        out = np.zeros(len(texts))
        valid = [i for i, (a, t) in enumerate(zip(items, texts)) if t in a.bodies]
        if valid:
            out[valid] = p_true(self.clf, self.tokenizer, [Outcome(items[i].prompt, texts[i]) for i in valid])
        return out


def load_agent(ctx, path: str):
    policy, tokenizer = load_pretrained(ctx.file(path))
    return place(policy).eval(), tokenizer


def agent_values(source: Outcomes, policy, tokenizer, pieces: list, seed: int = 0) -> list:
    """What the agent states each piece reaches (its greedy statement), or None where it writes no
    option of the piece."""
    if not pieces:
        return []
    items = asks(source, pieces)
    texts, _ = sample(policy, tokenizer, [a.prompt for a in items], 0.0, longest_statement(items), seed)
    out = []
    for p, a, t in zip(pieces, items, texts):
        out.append(source.options(p)[a.bodies.index(t)] if t in a.bodies else None)
    return out


def train_agent(ctx, r, level: int, lm_info: dict, rm_path: str) -> dict:
    """Stage: level ``level``'s agent, RLOO against its reward model ``rm_path`` from the pretrained
    backbone ``lm_info``, measured on the held-out pieces where that reward model is measured."""
    source = make_outcomes(r)
    policy, tokenizer = load_agent(ctx, lm_info["path"])
    reference, _ = load_agent(ctx, lm_info["path"])
    for p in reference.parameters():
        p.requires_grad_(False)
    clf, rm_tokenizer = load_reward_model(ctx, lm_info, rm_path)
    reward = RewardModelReward(clf, rm_tokenizer)
    lo, hi = r.steps_of(level)
    held = [p for p, _, _ in outcomes(r, level, ctx.seed, r.eval_split, r.test_outcomes, source)]
    held_asks = asks(source, held)
    cfg = r.agent.config(1.0, longest_statement(held_asks))
    seed = ctx.derive("rrm-agent", level)

    def prompts_at(step: int) -> list[Ask]:
        pieces = source.pieces(
            lo, hi, ctx.seed, "train", cfg.prompts_per_step, tag=("agent", level, step), judged=False
        )
        return asks(source, pieces)

    def measure() -> dict:
        """On the held-out pieces, with one sampling seed at every checkpoint (they differ only by the
        policy): the mean reward of T=1 samples (what RLOO raises), and the greedy statements (what
        assists the user): their reward, validity and truth (measured here, never rewarded)."""
        texts, _ = sample(policy, tokenizer, [a.prompt for a in held_asks], 1.0, cfg.max_new_tokens, seed + 1)
        stated = agent_values(source, policy, tokenizer, held)
        greedy = [source.item(p, v).body if v is not None else "" for p, v in zip(held, stated)]
        return {
            "reward": round(float(reward(held_asks, texts).mean()), 5),
            "greedy_reward": round(float(reward(held_asks, greedy).mean()), 5),
            "right": round(float(np.mean([v is not None and source.is_right(p, v) for p, v in zip(held, stated)])), 5),
            "valid": round(float(np.mean([v is not None for v in stated])), 5),
        }

    history = rloo(policy, reference, tokenizer, prompts_at, reward, cfg, seed, measure)
    argmax = assistant_values(source, clf, rm_tokenizer, held)
    argmax_right = float(np.mean([source.is_right(p, v) for p, v in zip(held, argmax)]))
    # the most reward an agent can earn on these pieces: RM_j's top option, as the argmax assistant states
    argmax_reward = float(reward(held_asks, [source.item(p, v).body for p, v in zip(held, argmax)]).mean())
    first, last = history["checkpoints"][0], history["checkpoints"][-1]
    log(
        f"rrm level {level} agent: reward {first['reward']:.3f} -> {last['reward']:.3f}, statements right "
        f"{first['right']:.1%} -> {last['right']:.1%} (argmax assistant: reward {argmax_reward:.3f}, right "
        f"{argmax_right:.1%}), "
        f"KL {history['steps'][-1]['kl']:.3f}"
    )
    name = ctx.artifact(f"models/rrm_agent{level}")
    atomic_save_dir(ctx.file(name), lambda f: (policy.save_pretrained(f), tokenizer.save_pretrained(f)))
    return {"path": name, "argmax_right": round(argmax_right, 5), "argmax_reward": round(argmax_reward, 5), **history}
