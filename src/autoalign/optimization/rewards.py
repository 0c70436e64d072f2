"""Rewards a policy is optimized against: ``f(problems, texts) -> np.ndarray`` (higher is better).

* :class:`OverseerRewardFn`: any registered overseer (a PRM, an ORM, a plugin's), its solution score
  read as a probability (``exp``), so a reward lies in [0, 1]; a text with no step scores 0.
* :func:`majority_reward`: self-consistency, the label-free baseline best-of-N compares with: a
  sample's reward is the share of the other samples of its prompt that reach the same final answer
  (the world's last step text). It needs no labels and no checker, and can be fooled by agreeing.
* :class:`LikelihoodReward`: the initial policy's own log-probability of the sample: no labels, no
  judge. The floor for rewards built on the generator's likelihood (the PRM's and ORM's heads are
  affine maps of it): what optimizing toward the initial policy's mode does alone.
* :func:`oracle_reward`: the checker itself, unsealed (1 right, 0 wrong): the ceiling, what a perfect
  overseer would give. The only reward that sees gold, named so.

Rewards see :class:`~autoalign.optimization.gold.BlindProblem` s and a sealed world only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Sequence

import numpy as np

Reward = Callable[[Sequence, Sequence[str]], np.ndarray]


class OverseerRewardFn:
    """An overseer's ``score`` as a reward in [0, 1]: exp(solution score), -inf (no step) -> 0."""

    def __init__(self, overseer):
        self.overseer = overseer

    def __call__(self, problems, texts) -> np.ndarray:
        scores = self.overseer.score(problems, list(texts))
        return np.array([math.exp(s.solution) if math.isfinite(s.solution) else 0.0 for s in scores], float)


def final_answer(world, text: str) -> str | None:
    """The last step's text (the answer line), or None when the text has no step."""
    steps = world.step_texts(text)
    return steps[-1].strip() if steps else None


def majority_reward(world) -> Reward:
    """Per sample: the share of the *other* samples of the same prompt with the same final answer
    (0 for a sample with no answer, and for a prompt sampled once)."""

    def reward(problems, texts) -> np.ndarray:
        answers = [final_answer(world, t) for t in texts]
        groups: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(problems):
            groups[p.prompt].append(i)
        out = np.zeros(len(texts))
        for idx in groups.values():
            if len(idx) < 2:
                continue
            counts: dict = defaultdict(int)
            for i in idx:
                counts[answers[i]] += 1
            for i in idx:
                if answers[i] is not None:
                    out[i] = (counts[answers[i]] - 1) / (len(idx) - 1)
        return out

    return reward


def acceptance_threshold(rewards, correct, fpr: float) -> float:
    """The lowest threshold at which a reward accepts (reward >= threshold) at most ``fpr`` of the
    wrong samples given; +inf when there is no wrong sample to calibrate on (accept nothing)."""
    wrong = np.sort(np.asarray(rewards, float)[~np.asarray(correct, bool)])
    if wrong.size == 0:
        return float("inf")
    allowed = int(np.floor(fpr * wrong.size))  # wrong samples that may be accepted
    return float(np.nextafter(wrong[-allowed - 1], np.inf))


class LikelihoodReward:
    """log pi_0(text | prompt), summed over the text's tokens and its end token."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def __call__(self, problems, texts) -> np.ndarray:
        from .policy import logprobs_no_grad

        return logprobs_no_grad(self.model, self.tokenizer, [p.prompt for p in problems], list(texts)).numpy()


def oracle_reward(world) -> Reward:
    """The checker as the reward (the ceiling): problems are rebuilt from their prompts."""

    def reward(problems, texts) -> np.ndarray:
        return np.array([float(world.check(world.parse_prompt(p.prompt), t).correct) for p, t in zip(problems, texts)])

    return reward
