"""Best-of-N reranking, estimated as in the PRM800K evaluation.

For each problem there is a pool of M sampled solutions, each with its correctness, its final
answer and one score per verifier. For every N, many random subsets of size N are drawn from the
pool; each method picks one solution from the subset, and the problem's best-of-N accuracy is the
fraction of subsets where the pick is correct. Methods:

* a score (``prm``, ``orm``, ``loglik``): the highest-scoring solution;
* ``majority``: a solution carrying the most common final answer (ties broken at random);
* ``weighted_vote``: the answer with the largest summed PRM probability, then its best solution;
* ``pass_at_n``: the ceiling, whether any solution in the subset is correct.

Per-problem accuracies are returned, so differences between methods get paired CIs over problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Pool:
    """One problem's sampled solutions."""

    correct: np.ndarray  # (M,) bool
    answers: list  # (M,) final answers (None if missing)
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (M,) higher is better


def _answer_codes(answers: list) -> np.ndarray:
    codes: dict = {}
    return np.array([-1 if a is None else codes.setdefault(a, len(codes)) for a in answers])


def _subsets(rng: np.random.Generator, m: int, n: int, r: int) -> np.ndarray:
    if n >= m:
        return np.tile(np.arange(m), (1, 1))
    return np.argsort(rng.random((r, m)), axis=1)[:, :n]


def _vote(sub_codes: np.ndarray, weights: np.ndarray, n_answers: int, rng) -> np.ndarray:
    """(R,) winning answer code per subset (-1 if no subset member has an answer).

    Only answers present in the subset can win; ties among them are broken at random.
    """
    member = sub_codes[..., None] == np.arange(n_answers)  # (R, N, U)
    present = member.any(axis=1)
    totals = (member * weights[..., None]).sum(axis=1)
    totals = np.where(present, totals + rng.random(totals.shape) * 1e-9, -np.inf)
    return np.where(present.any(axis=1), totals.argmax(axis=1), -1)


def best_of_n(
    pools: list[Pool], n_values: list[int], subsets: int = 200, seed: int = 0, vote_score: str = "prm"
) -> dict[str, dict[int, np.ndarray]]:
    """``result[method][N]`` is an array of per-problem best-of-N accuracies."""
    rng = np.random.default_rng(seed)
    methods = sorted({m for p in pools for m in p.scores}) + ["majority", "pass_at_n"]
    if all(vote_score in p.scores for p in pools):
        methods.append("weighted_vote")
    out: dict[str, dict[int, np.ndarray]] = {m: {n: np.zeros(len(pools)) for n in n_values} for m in methods}
    for i, pool in enumerate(pools):
        m = len(pool.correct)
        correct = pool.correct.astype(float)
        codes = _answer_codes(pool.answers)
        n_answers = max(int(codes.max()) + 1, 1)
        for n in n_values:
            sub = _subsets(rng, m, n, subsets)  # (R, N)
            sub_correct = correct[sub]
            out["pass_at_n"][n][i] = sub_correct.max(axis=1).mean()
            for name, s in pool.scores.items():
                pick = s[sub].argmax(axis=1)
                out[name][n][i] = sub_correct[np.arange(len(sub)), pick].mean()
            sub_codes = codes[sub]
            # majority: a random solution among those with the winning answer
            win = _vote(sub_codes, (sub_codes >= 0).astype(float), n_answers, rng)
            member = (sub_codes == win[:, None]) & (win[:, None] >= 0)
            share = (sub_correct * member).sum(1) / np.maximum(member.sum(1), 1)
            out["majority"][n][i] = share.mean()
            if "weighted_vote" in out:
                logp = pool.scores[vote_score][sub]
                top = logp.max(axis=1, keepdims=True)  # relative weights, no underflow; a -inf score weighs 0
                prob = np.where(np.isfinite(logp), np.exp(logp - np.where(np.isfinite(top), top, 0.0)), 0.0)
                win = _vote(sub_codes, prob * (sub_codes >= 0), n_answers, rng)
                member = (sub_codes == win[:, None]) & (win[:, None] >= 0)
                masked = np.where(member, pool.scores[vote_score][sub], -np.inf)
                pick = masked.argmax(axis=1)
                ok = sub_correct[np.arange(len(sub)), pick] * member.any(1)
                out["weighted_vote"][n][i] = ok.mean()
    return out
