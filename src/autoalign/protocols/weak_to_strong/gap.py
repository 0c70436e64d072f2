"""Performance gap recovered, its CI, its guard, and the noise floor.

PGR = (student - weak) / (ceiling - weak), all three measured on the same sealed test items. Its
CI resamples test items jointly for the three models (paired). A pair whose ceiling does not beat
the weak model by ``min_gap`` has no gap to recover: it gets no PGR and says why, instead of a
ratio of noise over noise.
"""

from __future__ import annotations

import numpy as np


def pgr_point(weak: float, student: float, ceiling: float) -> float:
    return (student - weak) / (ceiling - weak)


def gap_guard(weak: np.ndarray, ceiling: np.ndarray, min_gap: float) -> str | None:
    gap = float(ceiling.mean() - weak.mean())
    if gap < min_gap:
        return (
            f"no PGR: the ceiling ({ceiling.mean():.1%}) does not beat the weak model ({weak.mean():.1%}) "
            f"by {min_gap:.0%} or more"
        )
    return None


def pgr_estimate(
    weak: np.ndarray,
    student: np.ndarray,
    ceiling: np.ndarray,
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    baseline: np.ndarray | None = None,
) -> dict:
    """PGR with a paired bootstrap CI over test items (0/1 correctness vectors of equal length).
    Resamples whose gap is not positive are left out (their share is reported). With ``baseline``
    (another student's correctness on the same items): PGR(student) - PGR(baseline), that is
    (student - baseline) / (ceiling - weak), on the same resamples."""
    w, s, c = (np.asarray(v, dtype=float) for v in (weak, student, ceiling))
    ref = w if baseline is None else np.asarray(baseline, dtype=float)
    point = (s.mean() - ref.mean()) / (c.mean() - w.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(w), size=(n_resamples, len(w)))
    wm, sm, cm, rm = w[idx].mean(1), s[idx].mean(1), c[idx].mean(1), ref[idx].mean(1)
    ok = cm - wm > 1e-9
    stats = (sm[ok] - rm[ok]) / (cm[ok] - wm[ok])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha]) if stats.size else (float("nan"), float("nan"))
    return {
        "mean": float(point),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n": int(len(w)),
        "resampled": "test items",
        "dropped_resamples": float(1 - ok.mean()),
    }


def noise_floor(pgrs: list[float]) -> float | None:
    """The spread (standard deviation) of PGR over student seeds of one method."""
    vals = [p for p in pgrs if p is not None and np.isfinite(p)]
    return float(np.std(vals, ddof=1)) if len(vals) >= 2 else None
