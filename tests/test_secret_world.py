"""The secret-bearing arithmetic world (issue #25): labels a method's own checker cannot compute.

Seconds, no model: the secret is per seed and stable; gold texts are right under it and wrong in
standard arithmetic; a standard checker (the arithmetic world's own, and the ``own_checker`` canary's)
is near chance on a balanced set, and right on every item with the identity secret or on plain
arithmetic (the negative controls); the secret is in no text, config or repr; the world plugs into
the weak-to-strong config and builds the arithmetic world's items, rendered.
"""

from __future__ import annotations

import importlib.util
import json
import random

import pytest

from autoalign.errors import UserError
from autoalign.protocols.weak_to_strong.config import WeakToStrongConfig
from autoalign.protocols.weak_to_strong.tasks import steps_of, unlabelled, world_items
from autoalign.research.boundary.canaries import TASK_CANARIES, canary_file
from autoalign.worlds.arithmetic import ArithmeticWorld, parse_prompt
from autoalign.worlds.reference import world_ref
from autoalign.worlds.secret_arithmetic import DIGITS, Problem, Secret, secret_for

KNOBS = {"min_steps": 2, "max_steps": 4, "operators": "+-*"}
SEEDS = range(6)


def _world():
    return world_ref("secret_arithmetic", **KNOBS).make()


def _w2s(name: str) -> WeakToStrongConfig:
    return WeakToStrongConfig.model_validate({"world": {"name": name, **KNOBS}, "sizes": ["micro", "tiny"]})


def _own_checker():
    """The canary's labelling function, loaded from its file as the jail loads it (no autoalign in it)."""
    spec = importlib.util.spec_from_file_location("own_checker", canary_file("own_checker"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _balanced(items):
    ones, zeros = [it for it in items if it.label == 1], [it for it in items if it.label == 0]
    k = min(len(ones), len(zeros))
    assert k >= 50, (len(ones), len(zeros))
    return ones[:k] + zeros[:k]


def _standard_label(text_item) -> int:
    """The arithmetic world's own checker, reading the text in standard arithmetic."""
    plain = ArithmeticWorld(ArithmeticWorld.Config(**KNOBS))
    return int(plain.check(parse_prompt(text_item.prompt), text_item.body).correct)


def test_the_secret_differs_across_seeds_and_is_stable_for_one():
    secrets = [secret_for(s, "+-*") for s in range(40)]
    assert len({(s.digits, s.operators) for s in secrets}) == 40
    assert all(s.digits != DIGITS and sorted(s.digits) == list(DIGITS) for s in secrets)
    assert all(sorted(s.operators) == sorted("+-*") for s in secrets)
    assert secret_for(7, "+-*") == secret_for(7, "+-*")
    keyed = [secret_for(s, "+-*", "a private key") for s in range(40)]  # a key draws other secrets
    assert sum(k.digits != s.digits for k, s in zip(keyed, secrets)) >= 39
    assert world_ref("secret_arithmetic", key="k", **KNOBS).make().secret(7) == secret_for(7, "+-*", "k")
    world = _world()
    a, b = world.problems(3, "test", 30), world.problems(3, "test", 30)
    assert [p.solution for p in a] == [p.solution for p in b]
    other = world.problems(4, "test", 30)
    assert {p.solution for p in a}.isdisjoint({p.solution for p in other})  # different seed: different glyphs
    # the meanings are the arithmetic world's own problems at the same seed, split and knobs
    assert [p.plain for p in a] == ArithmeticWorld(ArithmeticWorld.Config(**KNOBS)).problems(3, "test", 30)
    assert all(world.split_of(p) == "test" for p in a)


def test_gold_is_right_under_the_secret_and_wrong_in_standard_arithmetic():
    world, plain = _world(), ArithmeticWorld(ArithmeticWorld.Config(**KNOBS))
    standard_right, total = 0, 0
    for seed in SEEDS:
        for p in world.problems(seed, "overseer", 60):
            v = world.check(p, p.solution)
            assert v.correct and v.well_formed and all(v.step_labels) and v.answer == p.answer
            assert world.steps(p.solution) == list(p.step_spans)  # step spans as written
            assert [p.solution[a:b].rstrip(";") for a, b in p.step_spans] == v.step_texts + [f"#{p.answer}"]
            standard_right += plain.check(parse_prompt(p.prompt), p.solution).correct
            total += 1
            # flaws: the arithmetic world's verdict on the same flawed text, read through the secret
            kind = world.flaw_kinds[total % len(world.flaw_kinds)]
            t, tp = world.tamper(p, kind, random.Random(total)), plain.tamper(p.plain, kind, random.Random(total))
            assert t.text == p.secret.render(tp.text) and t.flawed_step == tp.flawed_step
            ours, theirs = world.check(p, t.text), plain.check(p.plain, tp.text)
            assert (ours.correct, ours.step_labels, ours.first_error) == (
                theirs.correct,
                theirs.step_labels,
                theirs.first_error,
            )
            assert world.locally_invalid_steps(p, t.text) == plain.locally_invalid_steps(p.plain, tp.text)
    assert standard_right / total < 0.1, standard_right / total


def test_a_standard_checker_is_near_chance_and_right_everywhere_with_the_identity_secret():
    own = _own_checker()
    for seed in SEEDS:
        items = _balanced(world_items(_w2s("secret_arithmetic"), seed, "transfer", 300))
        labels = [own.own_label(it.text) for it in items]
        assert None not in labels  # it parses every text: it is wrong, not refused
        for name, guess in (("own_checker", labels), ("arithmetic checker", [_standard_label(it) for it in items])):
            acc = sum(g == it.label for g, it in zip(guess, items)) / len(items)
            assert 0.4 <= acc <= 0.6, (seed, name, acc)
    # negative control: the same world with the identity secret is plain arithmetic to that checker
    world = _world()
    ident = Secret.identity("+-*")
    for p in world.problems(0, "overseer", 100):
        q = Problem(p.plain, ident)
        flawed = world.tamper(q, "carried", random.Random(0)).text
        for text in (q.solution, flawed):
            item = type("I", (), {"prompt": q.prompt, "body": text})
            assert own.own_label(q.prompt + text + "?") == _standard_label(item) == int(world.check(q, text).correct)


def test_the_own_checker_canary_is_right_on_plain_arithmetic_and_near_chance_on_the_secret():
    assert "own_checker" in TASK_CANARIES
    source = canary_file("own_checker").read_text()
    imports = [line for line in source.splitlines() if line.strip().startswith(("import ", "from "))]
    assert imports and not any("autoalign" in line for line in imports)  # the jail does not stop it
    own = _own_checker()
    for seed in SEEDS[:3]:
        for name, low, high in (("arithmetic", 1.0, 1.0), ("secret_arithmetic", 0.4, 0.6)):
            items = _balanced(world_items(_w2s(name), seed, "transfer", 300))
            acc = sum(own.own_label(it.text) == it.label for it in items) / len(items)
            assert low <= acc <= high, (seed, name, acc)


def test_the_secret_is_in_no_text_config_or_record():
    cfg = _w2s("secret_arithmetic")
    for seed in SEEDS:
        s = secret_for(seed, "+-*")
        items = world_items(cfg, seed, "test", 60)
        shown = repr(unlabelled(items, steps_of(cfg)))  # what a method is handed
        dumped = json.dumps(cfg.model_dump(mode="json")) + repr(items)  # the config, and items in a log
        for blob in (shown, dumped):
            assert s.digits not in blob and "secret" not in blob.lower().replace("secret_arithmetic", "")
            assert "plain" not in blob and "steps=" not in blob  # no plain problem beside its rendering
        assert items[0].problem.extras == {}
        assert "Secret(...)" in repr(s)


def test_the_world_plugs_into_weak_to_strong_and_builds_the_arithmetic_items_rendered():
    cfg, control = _w2s("secret_arithmetic"), _w2s("arithmetic")
    plain_knobs = ArithmeticWorld.Config(**KNOBS).model_dump(mode="json")
    assert cfg.world.model_dump() == {"name": "secret_arithmetic", **plain_knobs, "key": ""}
    for role in ("weak", "transfer", "test"):
        ours, theirs = world_items(cfg, 5, role, 40), world_items(control, 5, role, 40)
        secret = ours[0].problem.secret
        assert [it.label for it in ours] == [it.label for it in theirs]
        assert [it.text for it in ours] == [secret.render(it.text) for it in theirs]
        assert sum(it.text != c.text for it, c in zip(ours, theirs)) >= 38
    with pytest.raises(ValueError, match="world 'secret_arithmetic': max_step: unknown key"):
        WeakToStrongConfig.model_validate({"world": {"name": "secret_arithmetic", "max_step": 3}})
    with pytest.raises(UserError, match="per seed only"):
        _world().draw(random.Random(0))
