"""The endpoint rule's false-positive rate and power, by simulation (issue #23).

Why: the automated researcher keeps what this rule calls held, so the rule must not call a true null
held more often than its 5%. The percentile bootstrap over five per-seed values it replaced did 11% of
the time (reproduced below, so this harness is shown to catch a liberal rule). Simulated here under
true nulls (the mean over seeds equals the threshold) for 3, 5 and 10 seeds and both kinds of metric:

- per-seed-only numbers (AUROC, PGR, TPR at 5% FPR): one value per seed, spread over seeds;
- per-item means (an accuracy; a paired difference with items in {-1, 0, 1}, as PRM - ORM): each
  seed's value is the mean of its own items, with seed-to-seed (training) variance added or not.

The rate must stay at or below 5% + 3 binomial standard errors at this many trials; power on a
constructed effect of 2 seed-SDs at 5 seeds must be high. Vectorised (``rule_holds`` judges every
trial at once, by the same code as ``evaluate_endpoints``) and seeded: the whole file takes about a
second.
"""

import math

import numpy as np
import pytest

from autoalign.endpoints import ALPHA, Endpoint, evaluate_endpoints, holm, rule_holds
from autoalign.measures import seed_t_test

TRIALS = 4000
BOUND = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS)  # 0.060 at 4,000 trials


def per_seed_only(rng, seeds, mean, sd=0.05):
    """One number per seed (an AUROC, a PGR), normal over seeds: ``(TRIALS, seeds)``."""
    return rng.normal(mean, sd, (TRIALS, seeds))


def accuracy(rng, seeds, mean, seed_sd, items=60):
    """Each seed: the share right of its own ``items`` test items; the seed's true rate varies by
    ``seed_sd`` around ``mean`` (training noise), or not (``seed_sd`` = 0)."""
    rate = np.clip(mean + seed_sd * rng.standard_normal((TRIALS, seeds)), 0, 1)
    return rng.binomial(items, rate) / items


def paired_difference(rng, seeds, effect, seed_sd, items=200, discordant=0.3):
    """Each seed: the mean over its items of a - b in {-1, 0, 1} (PRM right and ORM wrong: +1), a
    share ``discordant`` of items differing, with the seed's true effect varying by ``seed_sd``."""
    e = effect + seed_sd * rng.standard_normal((TRIALS, seeds))
    plus = rng.binomial(items, np.clip((discordant + e) / 2, 0, 1))
    minus = rng.binomial(items - plus, np.clip((discordant - e) / 2 / (1 - (discordant + e) / 2), 0, 1))
    return (plus - minus) / items


NULLS = {  # name: (draw the per-seed values of TRIALS null runs, the threshold)
    "per-seed only (AUROC > 0.5)": (lambda rng, n: per_seed_only(rng, n, 0.5), 0.5),
    "accuracy, no seed variance": (lambda rng, n: accuracy(rng, n, 0.5, 0.0), 0.5),
    "accuracy, seed variance": (lambda rng, n: accuracy(rng, n, 0.3, 0.05), 0.3),
    "paired difference, no seed variance": (lambda rng, n: paired_difference(rng, n, 0.0, 0.0), 0.0),
    "paired difference, seed variance": (lambda rng, n: paired_difference(rng, n, 0.0, 0.03), 0.0),
}


def false_positive_rate(values, threshold, direction, holds=rule_holds) -> float:
    return float(np.mean(holds(values, threshold, direction)))


@pytest.mark.parametrize("seeds", [3, 5, 10])
@pytest.mark.parametrize("kind", list(NULLS))
def test_a_true_null_holds_at_most_five_percent_of_the_time(kind, seeds):
    draw, threshold = NULLS[kind]
    rng = np.random.default_rng([seeds, list(NULLS).index(kind)])
    values = draw(rng, seeds)
    assert abs(values.mean() - threshold) < 0.01  # the simulation is a null
    for direction in ("greater", "less"):
        rate = false_positive_rate(values, threshold, direction)
        assert rate <= BOUND, f"{kind}, {seeds} seeds, {direction}: false-positive rate {rate:.3f} > {BOUND:.3f}"


@pytest.mark.parametrize(
    "kind, draw, threshold, sd",
    [
        ("per-seed only", lambda rng: per_seed_only(rng, 5, 0.5 + 2 * 0.05), 0.5, 0.05),
        ("accuracy", lambda rng: accuracy(rng, 5, 0.5 + 2 * math.hypot(0.05, 0.5 / 60**0.5), 0.05), 0.5, None),
        (
            "paired difference",
            lambda rng: paired_difference(rng, 5, 2 * math.hypot(0.03, 0.3**0.5 / 200**0.5), 0.03),
            0.0,
            None,
        ),
    ],
)
def test_an_effect_of_two_seed_sds_at_five_seeds_holds_most_of_the_time(kind, draw, threshold, sd):
    values = draw(np.random.default_rng(7))
    power = float(np.mean(rule_holds(values, threshold, "greater")))
    assert power > 0.75, f"{kind}: power {power:.2f}"  # measured 0.97-1.0
    assert not np.any(rule_holds(values, threshold, "less"))  # the wrong side never holds


def test_holm_keeps_a_family_of_six_true_nulls_at_five_percent():
    rng = np.random.default_rng(11)
    values = per_seed_only(rng, 5 * 6, 0.0, 1.0).reshape(TRIALS, 6, 5)
    p = seed_t_test(values, 0.0, "greater")["p"]  # (TRIALS, 6)
    any_held = np.mean([min(holm(list(row))) < ALPHA for row in p])
    assert any_held <= BOUND
    assert np.mean(np.any(p < ALPHA, axis=1)) > 0.2  # without Holm, one of six nulls holds far more often


def test_evaluate_endpoints_judges_as_the_simulated_rule_does():
    """The simulation is only evidence if the block takes the same path: compare a few hundred runs."""
    rng = np.random.default_rng(3)
    values = per_seed_only(rng, 5, 0.52)[:300]
    fast = rule_holds(values, 0.5, "greater")
    ep = [Endpoint(name="auc", metric="p.auroc", direction="greater", threshold=0.5)]
    slow = [
        evaluate_endpoints(ep, [{"p": {"auroc": float(v)}} for v in row], seeds=list(range(5)))["primary"]["auc"][
            "held"
        ]
        for row in values
    ]
    assert np.array_equal(fast, np.array(slow)) and 0 < fast.sum() < len(fast)


def _percentile_bootstrap_holds(values, threshold, direction, n_resamples=400):
    """The replaced rule (for the counterexample only): p = (k + 1) / (B + 1), k the bootstrap means
    of the seeds not beyond the threshold; held below 0.05 with the mean beyond and the 95% CI clear."""
    rng = np.random.default_rng(0)
    t, n = values.shape
    means = values[np.arange(t)[:, None, None], rng.integers(0, n, (t, n_resamples, n))].mean(axis=2)
    beyond = means > threshold if direction == "greater" else means < threshold
    p = (np.sum(~beyond, axis=1) + 1) / (n_resamples + 1)
    lo, hi = np.quantile(means, [0.025, 0.975], axis=1)
    clear = lo > threshold if direction == "greater" else hi < threshold
    return (p < ALPHA) & clear


def test_the_harness_catches_a_liberal_rule_the_replaced_bootstrap():
    values = per_seed_only(np.random.default_rng(5), 5, 0.5)
    old = false_positive_rate(values, 0.5, "greater", _percentile_bootstrap_holds)
    assert old > BOUND, old  # 0.084 here; the outside review measured 8.8% held, p < 0.05 11% of the time
    assert false_positive_rate(values, 0.5, "greater") <= BOUND


def test_the_rules_known_limit_values_skewed_against_the_claim_near_a_bound():
    """Pinned, and said in endpoints.py and the README: a rare event (5% of 30 items per seed) claimed
    to be below its true rate, or an AUROC near 1 claimed above its true value, is called held more
    often than 5%; a claim away from the bound (or toward the long tail) is not. If this test fails
    because the rule got better, update the docs."""
    rng = np.random.default_rng(13)
    rare = accuracy(rng, 5, 0.05, 0.0, items=30)
    ceiling = 1 - rng.beta(1, 9, (TRIALS, 5))  # mean 0.9, long tail below
    assert false_positive_rate(rare, 0.05, "less") > BOUND
    assert false_positive_rate(ceiling, 0.9, "greater") > BOUND
    assert false_positive_rate(rare, 0.05, "greater") <= BOUND
    assert false_positive_rate(ceiling, 0.9, "less") <= BOUND
