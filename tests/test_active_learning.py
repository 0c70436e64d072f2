"""The active-learning comparison on constructed accuracy curves: it shows a gain where active labels
are built to be worth twice as many uniform ones, shows none where they are not, and the old design
(a uniform curve stopping at the largest active budget) could not show it at all."""

import numpy as np
import pytest

from autoalign.config import config_from_dict
from autoalign.errors import UserError
from autoalign.protocols.best_of_n.active_learning import compare_strategies, plan_budgets

P = 4000  # test problems


def _base(budget):
    """Expected best-of-N accuracy of a PRM trained on ``budget`` uniform labels: linear in log budget."""
    return 0.3 + 0.08 * np.log2(np.asarray(budget, dtype=float) / 300)


def _curves(uniform_budgets, active_budgets, worth, seed=0):
    """Per-problem accuracies (0/1, one latent difficulty per problem shared by every PRM, as on a
    common test set); an active label is worth ``worth`` uniform ones beyond the seed set."""
    rng = np.random.default_rng(seed)
    u = rng.random(P)
    uniform = np.array([(u < _base(b)).astype(float) for b in uniform_budgets])
    seed_set = active_budgets[0]
    if worth == 1:
        u = rng.random(P)  # another draw of the same accuracy: no gain
    active = np.array([(u < _base(seed_set + worth * (b - seed_set))).astype(float) for b in active_budgets])
    return uniform, active


def test_twice_as_efficient_labels_report_about_2x_and_a_gain_at_equal_budget():
    ub, ab = [300, 1000, 2000, 4000], [300, 1000]
    uniform, active = _curves(ub, ab, worth=2)  # active at 1000 = 300 + 2 x 700 = uniform at 1700
    r = compare_strategies(ub, uniform, ab, active, n_resamples=300)
    d = r["data_efficiency"]
    assert d["mean"] == pytest.approx(1.7, rel=0.08) and d["ci_low"] > 1.2 and not d["lower_bound"]
    gain = r["equal_budget_difference"]["1000"]
    expected = float(_base(1700) - _base(1000))  # about 6 points
    assert gain["mean"] == pytest.approx(expected, abs=0.015) and gain["ci_low"] > 0
    assert len(gain["_units"]) == P  # per-problem values: pooled over seeds by the fan-out
    assert r["by_budget"]["1000"]["equivalent_uniform_budget"] == pytest.approx(1700, rel=0.08)


def test_labels_built_twice_as_efficient_overall_report_2x():
    """Every label twice as efficient (a seed set of 1): the factor is 2x at each budget."""
    ub, ab = [1, 500, 1000, 2000, 4000], [1, 500, 1000]
    rng = np.random.default_rng(3)
    u = rng.random(P)
    uniform = np.array([(u < _base(max(b, 300))).astype(float) for b in ub])
    active = np.array([(u < _base(max(2 * b, 300))).astype(float) for b in ab])
    r = compare_strategies(ub, uniform, ab, active, n_resamples=300)
    assert r["data_efficiency"]["mean"] == pytest.approx(2.0, rel=0.05)
    assert r["data_efficiency"]["ci_low"] > 1.5


def test_labels_no_better_than_uniform_report_about_1x_and_no_difference():
    ub, ab = [300, 1000, 4000], [300, 1000]
    uniform, active = _curves(ub, ab, worth=1, seed=1)
    r = compare_strategies(ub, uniform, ab, active, n_resamples=300)
    d = r["data_efficiency"]
    assert d["mean"] == pytest.approx(1.0, abs=0.15) and d["ci_low"] < 1 < d["ci_high"]
    diff = r["equal_budget_difference"]["1000"]
    assert abs(diff["mean"]) < 0.02 and diff["ci_low"] < 0 < diff["ci_high"]


def test_a_uniform_curve_that_stops_at_the_active_budget_caps_the_factor_at_1x():
    """The design the review criticised: budgets [300, 3000] on both curves."""
    ub = ab = [300, 3000]
    uniform, active = _curves(ub, ab, worth=2)
    r = compare_strategies(ub, uniform, ab, active, n_resamples=200)
    assert r["data_efficiency"]["mean"] <= 1.0 and r["data_efficiency"]["lower_bound"]
    assert r["equal_budget_difference"]["3000"]["ci_low"] > 0  # the equal-budget difference still sees it


def test_plan_budgets_puts_every_active_budget_on_a_uniform_curve_that_reaches_beyond():
    assert plan_budgets([300, 1000], [4000], 6000) == ([300, 1000], [300, 1000, 4000])
    assert plan_budgets([300, 1000], None, 6000) == ([300, 1000], [300, 1000, 4000])  # default: 4x
    assert plan_budgets([300, 1000], [4000], 2500) == ([300, 1000], [300, 1000, 2500])  # all there is
    act, uni = plan_budgets([300, 3000], None, 200)  # a tiny run: whatever fits
    assert act == [25, 50] and uni[-1] > act[-1]


def test_uniform_budgets_must_reach_past_the_active_ones():
    with pytest.raises(UserError, match="best_of_n.active_learning: .*reach past the largest active budget"):
        config_from_dict(
            {
                "protocol": "best_of_n",
                "best_of_n": {"active_learning": {"budgets": [300, 3000], "uniform_budgets": [3000]}},
            }
        )


def test_a_flat_uniform_curve_is_flagged_as_unreadable():
    """Where more uniform labels buy nothing, the factor is noise: uniform_gain says so."""
    ub, ab = [300, 1000, 4000], [300, 1000]
    rng = np.random.default_rng(5)
    u = rng.random(P)
    uniform = np.array([(u < 0.6).astype(float) for _ in ub])
    active = np.array([(rng.random(P) < 0.6).astype(float) for _ in ab])
    r = compare_strategies(ub, uniform, ab, active, n_resamples=200)
    assert r["uniform_gain"]["mean"] == 0 and r["uniform_gain"]["ci_high"] >= 0 >= r["uniform_gain"]["ci_low"]
    rising, _ = _curves(ub, ab, worth=2)
    assert compare_strategies(ub, rising, ab, active, n_resamples=200)["uniform_gain"]["ci_low"] > 0
