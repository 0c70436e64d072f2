"""Measures with uncertainty: every accuracy, gap and AUROC is reported with a 95% bootstrap CI.

Samples drawn for the same problem are correlated, so CIs resample *problems* (a cluster
bootstrap): pass one value per problem (e.g. the fraction of its K samples that are correct).
Estimates are plain dicts ``{"mean", "ci_low", "ci_high", "n"}`` so they serialise to JSON as-is.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Hashable, Iterable

import numpy as np

Estimate = dict


def bootstrap_ci(
    values: Iterable[float],
    n_resamples: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] | None = None,
    level: float = 0.95,
) -> Estimate:
    """Point estimate and percentile bootstrap CI of ``statistic`` (default: the mean)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    if statistic is None:
        point = float(x.mean())
        stats = x[idx].mean(axis=1)
    else:
        point = float(statistic(x))
        stats = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return {"mean": point, "ci_low": float(lo), "ci_high": float(hi), "n": int(x.size)}


def per_group_means(groups: Iterable[Hashable], values: Iterable[float]) -> dict:
    """Mean value per group, in first-seen order (e.g. per-problem accuracy over K samples)."""
    sums: dict = defaultdict(float)
    counts: dict = defaultdict(int)
    for g, v in zip(groups, values):
        sums[g] += float(v)
        counts[g] += 1
    return {g: sums[g] / counts[g] for g in sums}


def cluster_accuracy(problem_ids: list, correct: list[bool], n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """Accuracy over samples, with a CI that resamples problems rather than samples."""
    per_problem = per_group_means(problem_ids, correct)
    return bootstrap_ci(per_problem.values(), n_resamples=n_resamples, seed=seed)


def auroc_ci(problem_ids: list, labels: list[bool], scores: list[float], n_resamples: int = 500,
             seed: int = 0) -> Estimate:
    """AUROC of ``scores`` for ``labels`` with a CI that resamples problems (clusters)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    s = np.where(np.isfinite(s), s, -1e300)
    groups: dict = defaultdict(list)
    for i, g in enumerate(problem_ids):
        groups[g].append(i)
    members = [np.array(v) for v in groups.values()]
    if len(set(y.tolist())) < 2:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": len(members)}
    point = float(roc_auc_score(y, s))
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_resamples):
        idx = np.concatenate([members[j] for j in rng.integers(0, len(members), len(members))])
        if y[idx].min() != y[idx].max():
            stats.append(roc_auc_score(y[idx], s[idx]))
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return {"mean": point, "ci_low": float(lo), "ci_high": float(hi), "n": len(members)}
