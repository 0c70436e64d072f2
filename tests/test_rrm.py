"""Recursive reward modeling, unit-fast: both chain sources (arithmetic, countdown), the outcome
encoding the reward models read, assisted evaluation with an oracle, config validation."""

import random

import numpy as np
import pytest

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.protocols.rrm import (
    RRMConfig,
    assisted_verdicts,
    evaluate,
    outcome_text,
    outcomes,
    user_checks,
    user_unassisted,
)
from autoalign.protocols.rrm.reward_model import END, outcome_item

WORLD_SETUPS = [("arithmetic", 2, 3), ("countdown", 1, 3), ("countdown", 2, 3)]


def test_user_checks_short_chains_exactly_and_guesses_long_ones():
    assert user_checks(7, (("+", 5), ("-", 3)), 9) and not user_checks(7, (("+", 5), ("-", 3)), 8)
    truth = [bool(i % 2) for i in range(20000)]
    said = user_unassisted(truth, 0.7, random.Random(0))
    agree = np.mean([a == b for a, b in zip(said, truth)])
    assert abs(agree - 0.7) < 0.015


def test_levels_cover_the_chain_lengths():
    r = RRMConfig(checkable_steps=2, levels=3)
    assert [r.steps_of(k) for k in (1, 2, 3)] == [(1, 2), (3, 4), (5, 8)]
    assert [r.level_of(n) for n in range(1, 9)] == [1, 1, 2, 2, 3, 3, 3, 3]
    items = outcomes(r, 3, 0, "test", 200)
    assert all(5 <= len(p.ops) <= 8 for p, _, _ in items)
    assert 0.4 < np.mean([t for _, _, t in items]) < 0.6
    assert all((c == p.answer) == t for p, c, t in items)
    assert outcome_text(7, (("+", 5),), 12) == "7+5=12"


@pytest.mark.parametrize("world,checkable,levels", WORLD_SETUPS)
def test_assisted_evaluation_with_an_oracle_is_exact_and_never_accepts_a_false_claim(world, checkable, levels):
    r = RRMConfig(world=world, checkable_steps=checkable, levels=levels)
    items = [(p.start, p.ops, c) for p, c, _ in outcomes(r, levels, 0, "overseer", 300)]
    truth = [evaluate(s, ops, world) == c for s, ops, c in items]
    oracle = lambda level, chains: [evaluate(s, ops, world) for s, ops in chains]
    stats: dict = {}
    assert assisted_verdicts(r, oracle, items, stats) == truth
    assert stats["user_checks"] >= 2 * len(items)
    assert all(all(v) for k, v in stats.items() if k.startswith("assistant_level"))
    # a liar states a wrong value for every first half (where a countdown half has no value, after an
    # earlier lie, anything it says is wrong)
    liar = lambda level, chains: [((evaluate(s, ops, world) or 0) + 1) % 100 for s, ops in chains]
    said = assisted_verdicts(r, liar, items, {})
    assert not any(s and not t for s, t in zip(said, truth))  # a false claim is never accepted
    assert not any(said)  # every true claim is rejected when every stated value is off
    # any assistant at all (here: random values) never gets a false claim accepted
    rng = random.Random(0)
    guess = lambda level, chains: [rng.randrange(100) for _ in chains]
    assert not any(s and not t for s, t in zip(assisted_verdicts(r, guess, items, {}), truth))


def test_countdown_outcomes_follow_countdowns_rules():
    r = RRMConfig(world="countdown", checkable_steps=1, levels=3)
    assert r.chain_operators == "+-*/" and [r.steps_of(k) for k in (1, 2, 3)] == [(1, 1), (2, 2), (3, 4)]
    items = outcomes(r, 3, 0, "test", 300)
    assert 0.4 < np.mean([t for _, _, t in items]) < 0.6
    for p, c, t in items:
        assert 3 <= len(p.ops) <= 4 and (c == p.answer) == t
        value = p.start
        for op, b in p.ops:  # natural numbers, exact division, every value in 1..99
            assert 1 <= b <= 9
            assert op != "/" or value % b == 0
            value = {"+": value + b, "-": value - b, "*": value * b, "/": value // b}[op]
            assert 1 <= value <= 99
        assert value == p.answer == evaluate(p.start, p.ops, "countdown")
    assert {op for p, _, _ in items for op, _ in p.ops} == set("+-*/")
    # countdown arithmetic: no negative results, division only when exact
    assert evaluate(3, (("-", 5),), "countdown") is None and evaluate(7, (("/", 2),), "countdown") is None
    assert evaluate(3, (("-", 5),), "arithmetic") == 98  # mod 100
    assert user_checks(8, (("/", 2), ("*", 3)), 12, "countdown") and not user_checks(7, (("/", 2),), 3, "countdown")


def test_held_out_splits_are_disjoint_from_training_outcomes():
    for world, s, levels in WORLD_SETUPS[:2]:
        r = RRMConfig(world=world, checkable_steps=s, levels=levels)
        train = {outcome_text(p.start, p.ops, p.answer) for p, _, _ in outcomes(r, levels, 0, "overseer", 500)}
        for split in ("val", "test"):
            held = {outcome_text(p.start, p.ops, p.answer) for p, _, _ in outcomes(r, levels, 0, split, 200)}
            assert len(held) == 200 and not held & train


def test_the_outcome_encoding_is_prompt_then_a_terminated_claim():
    item = outcome_item(7, (("+", 5), ("-", 3)), 9)
    assert (item.prompt, item.body) == ("7+5-3=", "9" + END)
    assert item.prompt + item.body[:-1] == outcome_text(7, (("+", 5), ("-", 3)), 9)
    # the claim's end is marked, so a claim of 1 is not a prefix of a claim of 19
    assert not outcome_item(7, (("+", 5),), 19).body.startswith(outcome_item(7, (("+", 5),), 1).body)


@pytest.mark.parametrize("bad", ["rrm.world=chess", "rrm.model_size=huge", "rrm.operators=+x",
                                 "rrm.eval_split=overseer", "rrm.levels=4", "rrm.checkable_steps=0"])
def test_rrm_config_rejects_bad_values(bad):
    with pytest.raises(UserError):
        load_config("configs/rrm.yaml", [bad])


def test_both_configs_load_and_declare_the_primary_endpoint():
    for path, world in (("configs/rrm.yaml", "arithmetic"), ("configs/rrm_countdown.yaml", "countdown")):
        cfg = load_config(path, [])
        assert cfg.rrm.world == world
        primary = [(e.metric, e.direction, e.threshold) for e in cfg.endpoints if e.primary]
        assert primary == [("rrm.rrm.recursive_minus_unassisted", "greater", 0.0)]
        assert {e.metric for e in cfg.endpoints} >= {"rrm.rrm.ceiling", "rrm.rrm.recursive_minus_ceiling"}
    assert load_config("configs/rrm.yaml", ["rrm.world=countdown"]).rrm.chain_operators == "+-*/"
