"""How the over-optimization endpoint's statistic behaves under the null, simulated (numpy only).

Gold at each checkpoint of each seed = a flat expected curve + a training-trajectory wobble shared by
every problem of that checkpoint (the policy at step 60 is a little better or worse than at step 80 by
chance) + the test's sampling noise (4 samples per problem). The run's cross-fitted drop chooses the
peak on half the problems, which removes sampling noise from the choice but not the wobble, so under
a flat curve it is biased upward and a seed-level t-test over 5 seeds rejects far more often than
5% (34% at a wobble of 3 points here). Choosing the peak on the other seeds
(``scripts/overoptimization_seeds.py``) keeps it near 10%: not exactly nominal, because seeds share
the choice (the peak chosen for seed t uses seed s and the other way round). These tests pin those
facts, so the README's reading of the registered endpoint (which uses the cross-fitted drop) rests
on a measured bias, not a guess."""

from __future__ import annotations

import numpy as np
from scipy import stats

from autoalign.protocols.overoptimization import cross_fitted_drop

SEEDS, CHECKPOINTS, PROBLEMS, K = 5, 6, 200, 4


def simulate(rng, wobble: float, fall: float = 0.0) -> np.ndarray:
    """seeds x checkpoints x problems gold shares; ``fall``: the expected drop over the last half."""
    base = rng.beta(4, 2, PROBLEMS)
    trend = np.array([-fall * max(0.0, (c - CHECKPOINTS / 2) / (CHECKPOINTS / 2)) for c in range(CHECKPOINTS)])
    out = np.empty((SEEDS, CHECKPOINTS, PROBLEMS))
    for s in range(SEEDS):
        shift = trend + rng.normal(0, wobble, CHECKPOINTS)
        p = np.clip(base[None, :] + shift[:, None], 0, 1)
        out[s] = rng.binomial(K, p) / K
    return out


def rejects(per_seed: list[float]) -> bool:
    return stats.ttest_1samp(per_seed, 0.0, alternative="greater").pvalue < 0.05


def rates(wobble: float, fall: float = 0.0, trials: int = 300, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    cross, loso = 0, 0
    for _ in range(trials):
        gold = simulate(rng, wobble, fall)
        cross += rejects([float(np.mean(cross_fitted_drop(g)[0])) for g in gold])
        curves = gold.mean(2)
        drops = []
        for s in range(SEEDS):
            peak = int(np.delete(curves, s, axis=0).mean(0).argmax())
            drops.append(curves[s, peak] - curves[s, -1])
        loso += rejects(drops)
    return cross / trials, loso / trials


def test_without_a_training_wobble_both_rules_hold_their_level():
    cross, loso = rates(wobble=0.0)
    assert cross <= 0.08 and loso <= 0.13


def test_a_training_wobble_inflates_the_cross_fitted_rule_far_more_than_the_leave_one_seed_out_rule():
    cross, loso = rates(wobble=0.03)
    assert cross >= 0.25  # the registered statistic's known bias under a flat curve
    assert loso <= 0.15


def test_the_leave_one_seed_out_rule_sees_a_real_fall():
    _, loso = rates(wobble=0.02, fall=0.06, trials=200, seed=1)
    assert loso >= 0.5
