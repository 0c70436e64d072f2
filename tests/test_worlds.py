"""The World interface: disjoint, deduplicated splits for every world; checkers; spans; flaws."""

import random

import pytest

from autoalign.errors import UserError
from autoalign.registry import worlds
from autoalign.worlds import SPLITS, make_world
from autoalign.worlds.arithmetic import ArithmeticConfig
from autoalign.worlds.countdown import CountdownConfig, CountdownWorld


@pytest.mark.parametrize("name", ["arithmetic", "countdown", "facts"])
def test_splits_are_disjoint_and_distinct_across_seeds(name):
    world = make_world(name)
    seen = {}
    for split in SPLITS:
        for seed in (0, 1):
            ids = [world.identity(p) for p in world.problems(seed, split, 60)]
            assert len(set(ids)) == len(ids)  # deduplicated within a split
            seen.setdefault(split, set()).update(ids)
    splits = list(seen)
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            assert not seen[a] & seen[b], (a, b)
    # and training streams never hold a test problem
    test = seen["test"]
    for step in range(20):
        assert not {world.identity(p) for p in world.problems(0, "train", 64, tag=step, distinct=False)} & test


def test_digits_test_images_are_never_training_images():
    world = make_world("digits")
    test = {p.pixels for p in world.problems(0, "test", 10_000)}
    train = {p.pixels for p in world.problems(3, "train", 10_000)}
    assert len(test) > 300 and not test & train


def test_problems_are_deterministic_and_too_many_is_one_line():
    world = make_world("arithmetic", ArithmeticConfig(min_steps=1, max_steps=1, operators="+", max_operand=3))
    assert [p.prompt for p in world.problems(0, "test", 2)] == [p.prompt for p in world.problems(0, "test", 2)]
    with pytest.raises(UserError, match="only .* distinct test problems"):
        world.problems(0, "test", 50)


def test_every_world_is_registered():
    assert {"arithmetic", "countdown", "facts", "digits"} <= set(worlds.names())


@pytest.mark.parametrize("name", ["arithmetic", "countdown"])
def test_spans_tile_the_text_and_flaws_are_where_the_checker_says(name):
    world = make_world(name)
    rng = random.Random(0)
    for p in world.problems(0, "test", 100):
        spans = world.steps(p.solution)
        assert "".join(p.solution[a:b] for a, b in spans) == p.solution and len(spans) == p.n_steps + 1
        assert world.check(p, p.solution).correct
        for kind in world.flaw_kinds:
            t = world.tamper(p, kind, rng)
            v = world.check(p, t.text)
            assert v.first_error == t.flawed_step or (t.flawed_step == p.n_steps and not v.correct)


def test_countdown_checker_honours_its_operators():
    p = CountdownWorld().problems(0, "test", 1)[0]
    text = "2*3=6;6+4=10;#10"
    from autoalign.worlds.countdown import CountdownProblem

    p = CountdownProblem((2, 3, 4), 10, ())
    assert CountdownWorld(CountdownConfig()).check(p, text).correct
    assert not CountdownWorld(CountdownConfig(operators="+-")).check(p, text).correct
