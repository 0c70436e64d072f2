"""Measures with uncertainty: every accuracy, gap and AUROC is reported with a 95% bootstrap CI.

Samples drawn for the same problem are correlated, so CIs resample *problems* (a cluster
bootstrap): pass one value per problem (e.g. the fraction of its K samples that are correct).
Estimates are plain dicts ``{"mean", "ci_low", "ci_high", "n", "resampled"}`` (typed as
``results.Estimate``) so they serialise to JSON as-is. A mean's estimate also carries its per-unit
values under ``_units``; the run store moves those to ``units.json``, from which the pooled CI over
seeds resamples problems within seeds (``hierarchical_bootstrap``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Hashable, Iterable

import numpy as np

from .results import Estimate  # noqa: F401  (the typed form of the dicts returned here)


def bootstrap_ci(
    values: Iterable[float],
    n_resamples: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] | None = None,
    level: float = 0.95,
    unit: str = "problems",
) -> Estimate:
    """Point estimate and percentile bootstrap CI of ``statistic`` (default: the mean) over units."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if statistic is None:
        point, stats = mean_resamples(x, n_resamples, seed)
    else:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, x.size, size=(n_resamples, x.size))
        point = float(statistic(x))
        stats = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    out = {"mean": point, "ci_low": float(lo), "ci_high": float(hi), "n": int(x.size), "resampled": unit}
    if statistic is None:
        out["_units"] = [round(float(v), 6) for v in x]
    return out


def hierarchical_bootstrap(
    units_per_seed: list[list[float]], n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> Estimate:
    """Mean over seeds of each seed's mean over units, with a CI that resamples seeds and then
    units: it covers training noise as well as the test set's.

    When every seed has the same number of units, one index vector per resample is applied to every
    drawn seed (a crossed bootstrap): right when the seeds share their test items in the same order
    (the digits' test images), and still right when each seed has its own items, since averaging
    independent items over seeds leaves the same variance. Otherwise units are resampled within each
    seed. Resampling both levels counts the units' noise more than once, so with few seeds the CI is
    conservative: when seeds agree and each has its own items, about 1.7x as wide as a bootstrap of
    all items pooled (tested); when seeds share their items, about as wide as one seed's (tested)."""
    point, stats = hierarchical_resamples(units_per_seed, n_resamples, seed)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    n = sum(1 for u in units_per_seed if len(u))
    return {"mean": point, "ci_low": float(lo), "ci_high": float(hi), "n": n, "resampled": "seeds>problems"}


def hierarchical_resamples(
    units_per_seed: list[list[float]], n_resamples: int = 2000, seed: int = 0
) -> tuple[float, np.ndarray]:
    """The point estimate and the bootstrap distribution behind ``hierarchical_bootstrap`` (the
    same draws for the same seed). A CI, not a test: endpoints are tested over seeds (``seed_t_test``)."""
    groups = [np.asarray(u, dtype=float) for u in units_per_seed if len(u)]
    if not groups:
        raise ValueError("hierarchical_bootstrap needs at least one non-empty seed")
    rng = np.random.default_rng(seed)
    point = float(np.mean([g.mean() for g in groups]))
    crossed = len({g.size for g in groups}) == 1
    stats = np.empty(n_resamples)
    for b in range(n_resamples):
        picks = rng.integers(0, len(groups), len(groups))
        if crossed:
            idx = rng.integers(0, groups[0].size, groups[0].size)
            stats[b] = np.mean([groups[j][idx].mean() for j in picks])
        else:
            stats[b] = np.mean([groups[j][rng.integers(0, groups[j].size, groups[j].size)].mean() for j in picks])
    return point, stats


def mean_resamples(values, n_resamples: int = 2000, seed: int = 0) -> tuple[float, np.ndarray]:
    """The mean and the bootstrap distribution of the mean behind ``bootstrap_ci`` (same draws)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    idx = np.random.default_rng(seed).integers(0, x.size, size=(n_resamples, x.size))
    return float(x.mean()), x[idx].mean(axis=1)


def seed_t_test(per_seed, threshold: float = 0.0, direction: str = "greater", level: float = 0.95) -> dict:
    """One-sided one-sample t-test of per-seed values against ``threshold``, with its t-interval.

    The seed is the unit of replication: each value is one independently trained run's estimate
    (its mean over its own test items, or a number such as an AUROC), so the spread over seeds
    already carries each seed's item noise once. ``direction`` is the alternative (``greater``:
    the mean over seeds is above ``threshold``). Vectorised over leading axes: ``per_seed`` has
    shape ``(..., n_seeds)`` and every returned array has the leading shape (plain floats for 1-D).

    Returns ``{"mean", "ci_low", "ci_high", "sd", "t", "p", "df", "n"}``: the two-sided ``level``
    t-interval over seeds, and the one-sided p (``scipy.stats.ttest_1samp``). Where the seeds do not
    vary (every value equal, to rounding) the t statistic is undefined and ``t`` and ``p`` are NaN:
    a constant is no evidence about the spread, so it is never a small p. Needs two seeds or more.
    """
    import warnings

    from scipy import stats

    if direction not in ("greater", "less"):
        raise ValueError(f"direction must be 'greater' or 'less', not {direction!r}")
    x = np.asarray(per_seed, dtype=float)
    n = x.shape[-1] if x.ndim else 0
    if n < 2:
        raise ValueError("a seed-level test needs at least two seeds")
    mean = x.mean(axis=-1)
    sd = x.std(axis=-1, ddof=1)
    constant = np.ptp(x, axis=-1) <= 1e-9 * np.maximum(1.0, np.abs(mean))
    with warnings.catch_warnings():  # nearly identical seeds: scipy warns; they are NaN below
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_1samp(x, threshold, axis=-1, alternative=direction)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
    out = {
        "mean": mean,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "sd": sd,
        "t": np.where(constant, np.nan, res.statistic),
        "p": np.where(constant, np.nan, res.pvalue),
    }
    if x.ndim == 1:
        out = {k: float(v) for k, v in out.items()}
    return {**out, "df": n - 1, "n": n}


def seed_bootstrap(values: list[float], n_resamples: int = 2000, seed: int = 0) -> Estimate:
    """Mean of per-seed point values with a CI over seeds only (for statistics that are not means
    of units, such as AUROC or Elo, whose units cannot be pooled)."""
    out = bootstrap_ci(values, n_resamples=n_resamples, seed=seed, unit="seeds")
    out.pop("_units", None)
    return out


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
    return bootstrap_ci(list(per_problem.values()), n_resamples=n_resamples, seed=seed)


def auroc_ci(
    problem_ids: list, labels: list[bool], scores: list[float], n_resamples: int = 500, seed: int = 0
) -> Estimate:
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


def elo_ratings(
    first: list[int],
    second: list[int],
    first_won: list[bool],
    players: int,
    groups: list | None = None,
    n_resamples: int = 200,
    seed: int = 0,
) -> dict:
    """Elo ratings from games between players, by a Bradley-Terry fit (logistic regression).

    P(first beats second) = sigmoid(r_first - r_second + a), where ``a`` is the advantage of playing
    first (in debate: of arguing the true side). Ratings are in Elo points (400 per factor of 10 in
    odds), centred on 1000. CIs resample ``groups`` (e.g. questions), since games on one question
    are correlated. Returns ``{"ratings": [{mean, ci_low, ci_high}], "side_advantage": {...}}``.
    """
    from sklearn.linear_model import LogisticRegression

    a, b, y = np.asarray(first), np.asarray(second), np.asarray(first_won, dtype=int)
    x = np.zeros((len(y), players))
    np.add.at(x, (np.arange(len(y)), a), 1.0)
    np.add.at(x, (np.arange(len(y)), b), -1.0)
    scale = 400 / np.log(10)

    def fit(idx: np.ndarray) -> np.ndarray:
        if y[idx].min() == y[idx].max():
            return np.full(players + 1, np.nan)
        lr = LogisticRegression(C=1e4, max_iter=2000).fit(x[idx], y[idx])
        r = lr.coef_[0] * scale
        return np.concatenate([r - r.mean() + 1000, [lr.intercept_[0] * scale]])

    point = fit(np.arange(len(y)))
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(seed)
    stats = np.array(
        [
            fit(np.concatenate([members[j] for j in rng.integers(0, len(members), len(members))]))
            for _ in range(n_resamples)
        ]
    )
    lo, hi = np.nanquantile(stats, [0.025, 0.975], axis=0)
    est = [
        {"mean": float(point[i]), "ci_low": float(lo[i]), "ci_high": float(hi[i]), "n": len(members)}
        for i in range(players + 1)
    ]
    return {"ratings": est[:players], "side_advantage": est[players]}


def within_group_auroc(groups: Iterable[Hashable], labels: Iterable[bool], scores: Iterable[float]) -> dict:
    """AUROC of ``scores`` for ``labels`` computed inside each group (e.g. one problem's samples),
    for the groups holding both labels: ``{group: auroc}``. Ties count one half.

    The pooled AUROC also rewards telling easy problems from hard ones, which reranking a problem's
    own samples never uses; this one measures only the ranking within a problem. Pass its values to
    ``bootstrap_ci`` for a mean with a CI over groups."""
    members: dict = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    y = np.asarray(list(labels), dtype=bool)
    s = np.asarray(list(scores), dtype=float)
    out = {}
    for g, idx in members.items():
        yy, ss = y[idx], s[idx]
        pos, neg = ss[yy], ss[~yy]
        if pos.size and neg.size:
            diff = pos[:, None] - neg[None, :]
            out[g] = float(((diff > 0) + 0.5 * (diff == 0)).mean())
    return out
