"""Keep or discard: a proposal replaces the incumbent only if a seed-level test says it is better.

Both are run on the same search seeds (the same pretrained models, weak labels and validation items,
and the same student seed), and the test is the project's endpoint rule (``measures.seed_t_test``):
a one-sided t-test over the per-seed differences in validation PGR. Identical reruns of the
incumbent with another student seed give the noise floor: their spread is what a proposal must beat,
and the t-test sees it through the differences' own spread. Looks are corrected for: the k-th
proposal is tested at alpha * 6 / (pi^2 k^2), which sums to alpha over any number of proposals, so
trying more proposals cannot buy a false acceptance.
"""

from __future__ import annotations

import math

import numpy as np

from ..measures import seed_t_test


def alpha_at(k: int, alpha: float) -> float:
    """The k-th look's share of alpha (k = 1, 2, ...): alpha * 6 / (pi^2 k^2)."""
    if k < 1:
        raise ValueError("looks are counted from 1")
    return alpha * 6 / (math.pi**2 * k**2)


def paired(candidate: list, reference: list) -> tuple[list[float], list[float], bool]:
    """The seeds both have a PGR on, as two lists, and whether the candidate lacks one where the
    reference has it (a failed run: the candidate's, never excused).

    A seed without the reference's PGR is one whose weak-to-ceiling gap is under ``min_gap``: the
    weak model and the ceiling are shared by every method on a seed (their stages ignore the method),
    so that seed has no PGR for any method and is left out of every comparison alike; it is decided
    before any method runs, so leaving it out cannot favour one."""
    both = [(c, r) for c, r in zip(candidate, reference) if c is not None and r is not None]
    failed = any(c is None and r is not None for c, r in zip(candidate, reference))
    return [c for c, _ in both], [r for _, r in both], failed


def keep_or_discard(candidate: list, incumbent: list, k: int, alpha: float) -> dict:
    """The decision on the k-th proposal from per-seed validation PGRs (None: no PGR on that seed)."""
    level = alpha_at(k, alpha)
    cand, inc, failed = paired(candidate, incumbent)
    if failed:
        return {
            "kept": False,
            "alpha_k": level,
            "reason": "no PGR on a seed where the incumbent has one (a failed run)",
        }
    if len(cand) < 2:
        return {"kept": False, "alpha_k": level, "reason": f"PGR on {len(cand)} seed(s): too few to test"}
    diffs = np.asarray(cand, float) - np.asarray(inc, float)
    test = seed_t_test(diffs, 0.0, "greater")
    p = float(test["p"])
    kept = bool(test["mean"] > 0 and p < level)  # NaN p (identical on every seed) never keeps
    reason = (
        f"gain {test['mean']:+.3f} PGR, p {p:.3g} < {level:.3g}"
        if kept
        else f"gain {test['mean']:+.3f} PGR, p {'n/a' if math.isnan(p) else f'{p:.3g}'} not below {level:.3g}"
    )
    return {
        "kept": kept,
        "alpha_k": level,
        "gain": float(test["mean"]),
        "gain_ci": [float(test["ci_low"]), float(test["ci_high"])],
        "p": None if math.isnan(p) else p,
        "seeds_tested": len(cand),
        "reason": reason
        + (
            f" (over {len(cand)} of {len(candidate)} seeds: the rest have no PGR)" if len(cand) < len(candidate) else ""
        ),
    }


def noise_floor(first: list, rerun: list, alpha: float) -> dict:
    """The spread of identical reruns: the SD over seeds of (rerun - first) validation PGR, and the
    smallest mean gain a one-sided t-test over these seeds could call real at the first look."""

    pairs = [(a, b) for a, b in zip(first, rerun) if a is not None and b is not None]
    if len(pairs) < 2:
        return {"sd": None, "detectable_gain": None, "n": len(pairs)}
    d = np.array([b - a for a, b in pairs])
    sd = float(d.std(ddof=1))
    return {"sd": sd, "detectable_gain": detectable_gain(sd, len(d), 1, alpha), "n": len(d)}


def detectable_gain(sd: float, n: int, k: int, alpha: float) -> float:
    """The smallest mean gain over ``n`` seeds that the k-th look's one-sided t-test keeps, when the
    per-seed gains spread as identical reruns do (SD ``sd``): the alpha spent over looks makes it grow
    with k."""
    from scipy import stats

    return float(stats.t.ppf(1 - alpha_at(k, alpha), n - 1) * sd / math.sqrt(n))
