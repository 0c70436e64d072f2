"""Weak-to-strong methods as plug-ins: a method registered from outside runs through the protocol and
is scored like the built-ins; what it is handed has no label, no world and no checker; a method that
is not registered fails at config load, naming the key; a method's source is part of its stage key.

The supervisors are replaced by stand-ins of known accuracy (the weak one right on 60% of items, the
ceiling on all of them), so there is always a gap to recover and the plug-in always gets a PGR; the
methods themselves train for real (a few steps at lab size tiny)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys

import pytest

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.methods import Method, MethodInputs, Predictions, Text, train_student
from autoalign.methods.base import source_digest
from autoalign.orchestration import execute, open_run
from autoalign.protocols.weak_to_strong.config import WeakToStrongConfig
from autoalign.registry import methods

TINY = [
    "weak_to_strong.sizes=[micro, tiny]",
    "weak_to_strong.pretrain_steps={micro: 0, tiny: 0}",
    "weak_to_strong.world.max_steps=2",
    "weak_to_strong.train_steps=3",
    "weak_to_strong.batch_size=8",
    "weak_to_strong.weak_items=40",
    "weak_to_strong.transfer_items=40",
    "weak_to_strong.test_items=40",
    "weak_to_strong.noise_seeds=0",
    "weak_to_strong.canaries=false",
    "bootstrap_resamples=100",
    "threads=1",
]


class FiveSteps(Method):
    """A plug-in method: the built-in student helper, for five steps; it keeps what it was handed."""

    seen: list = []

    def run(self, inputs: MethodInputs) -> Predictions:
        FiveSteps.seen.append(inputs)
        short = dataclasses.replace(inputs, budget=dataclasses.replace(inputs.budget, train_steps=5))
        out = train_student(short, inputs.weak_labels)
        return Predictions(test=out["test"], transfer=out["transfer"], history=out["history"])


class Junk(Method):
    """A plug-in that answers in words: every prediction counts wrong, and the score says why."""

    def run(self, inputs: MethodInputs) -> Predictions:
        return Predictions(test=["yes"] * len(inputs.test))


def _stand_in_supervisor(ctx, size, lm_info, w, role):
    """Stand-in for the ``fit_and_predict`` stage: the ceiling right on every item, the weak
    supervisor on the first 60% of each set only."""
    from autoalign.protocols.weak_to_strong.tasks import items

    out = {}
    for group in ("transfer", "test"):
        labels = [it.label for it in items(ctx, w, group)]
        right = [role == "transfer" or i < 0.6 * len(labels) for i in range(len(labels))]
        out[group] = [0.8 if y == ok else 0.2 for y, ok in zip(labels, right)]
    return out


@pytest.fixture
def plugin_methods(monkeypatch):
    monkeypatch.setitem(methods._items, "five_steps", FiveSteps)
    monkeypatch.setitem(methods._items, "junk", Junk)
    FiveSteps.seen.clear()
    yield


def test_a_registered_method_runs_and_is_scored_like_the_builtins(plugin_methods, monkeypatch, tmp_path):
    import autoalign.protocols.weak_to_strong as w2s

    monkeypatch.setattr(w2s, "fit_and_predict", _stand_in_supervisor)
    cfg = load_config(
        "configs/weak_to_strong.yaml",
        TINY + ["weak_to_strong.methods=[ce, five_steps, junk]", "weak_to_strong.method_options={five_steps: {k: 1}}"],
    )
    store, _ = open_run(cfg, tmp_path / "run")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    assert pair["guard"] is None and pair["ceiling"]["mean"] == 1.0 and pair["weak"]["mean"] == pytest.approx(0.6)
    assert set(pair["methods"]) == {"ce", "five_steps", "junk"}
    mine = pair["methods"]["five_steps"]
    assert mine["pgr"] is not None and mine["pgr_minus_ce"] is not None and 0 <= mine["agreement"]["mean"] <= 1
    assert mine["student"]["n"] == 40
    junk = pair["methods"]["junk"]
    assert junk["student"]["mean"] == 0 and any("unparseable" in f for f in junk["flags"])
    assert "w2s.micro-tiny.five_steps.0" in store.finished_stages

    (inputs,) = FiveSteps.seen
    weak = store.finished_stages["w2s.micro.weak"]["result"]
    assert list(inputs.weak_labels) == weak["transfer"] and inputs.supervisor == "weak"
    assert inputs.strong.size == "tiny" and inputs.weak is None and inputs.intermediates == ()
    assert inputs.options == {"k": 1} and len(inputs.test) == 40 and inputs.budget.train_steps == 3


def test_a_method_is_handed_no_label_world_or_checker(plugin_methods, monkeypatch, tmp_path):
    import autoalign.protocols.weak_to_strong as w2s
    from autoalign.worlds.base import World

    monkeypatch.setattr(w2s, "fit_and_predict", _stand_in_supervisor)
    cfg = load_config("configs/weak_to_strong.yaml", TINY + ["weak_to_strong.methods=[five_steps]"])
    store, _ = open_run(cfg, tmp_path / "run")
    execute(store, cfg)
    (inputs,) = FiveSteps.seen
    for texts in (inputs.test, inputs.transfer):
        assert texts and all(type(t) is Text for t in texts)
        assert {f.name for f in dataclasses.fields(Text)} == {"text", "prompt", "body", "spans"}
    fields = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(MethodInputs)}
    assert not [name for name in fields if "label" in name and name != "weak_labels"]
    for value in fields.values():  # nothing handed over is a world, a checker or a problem (which holds the answer)
        assert not isinstance(value, World) and not hasattr(value, "check") and not hasattr(value, "answer")
    steps = w2s.students.steps_of(cfg.weak_to_strong)
    assert all(list(t.spans) == steps(t.body) for t in inputs.test)  # step spans come from the world, precomputed


def test_unknown_methods_fail_at_load_naming_the_key():
    with pytest.raises(UserError, match=r"weak_to_strong\.methods: .*unknown weak-to-strong method 'nope'") as e:
        load_config("configs/weak_to_strong.yaml", ["weak_to_strong.methods=[ce, nope]"])
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="at most once"):
        WeakToStrongConfig(methods=["ce", "ce"])
    with pytest.raises(ValueError, match="method_options: 'bootstrap' is not in methods"):
        WeakToStrongConfig(methods=["ce"], method_options={"bootstrap": {}})


def test_a_registered_non_method_is_refused(monkeypatch):
    monkeypatch.setitem(methods._items, "a_function", lambda inputs: None)
    with pytest.raises(ValueError, match="not a Method class"):
        WeakToStrongConfig(methods=["a_function"])


def test_world_is_a_reference_checked_for_what_weak_to_strong_needs():
    assert WeakToStrongConfig(world={"name": "countdown"}).world.name == "countdown"
    with pytest.raises(ValueError, match="world: world 'digits' has no solutions"):
        WeakToStrongConfig(world="digits")
    with pytest.raises(ValueError, match="max_stepz: unknown key"):
        WeakToStrongConfig(world={"name": "arithmetic", "max_stepz": 3})
    assert WeakToStrongConfig(world="digits", data="x.jsonl").data == "x.jsonl"  # a file needs no world
    with pytest.raises(ValueError, match="overseer: unknown overseer 'nope'"):
        WeakToStrongConfig(overseer="nope")


def test_a_methods_source_is_part_of_its_stage_key(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    src = tmp_path / "w2s_plugin_method.py"
    src.write_text(
        "from autoalign.methods import Method\n\n\nclass M(Method):\n    def run(self, inputs):\n        return None\n"
    )
    module = importlib.import_module("w2s_plugin_method")
    before = source_digest(module.M)
    src.write_text(src.read_text() + "# edited\n")
    module = importlib.reload(module)
    assert source_digest(module.M) != before
    sys.modules.pop("w2s_plugin_method", None)


def test_tunable_without_options_is_confidence_and_runs_differing_in_methods_share_their_models(monkeypatch, tmp_path):
    """The researcher's starting point is the hand-written method exactly (same student, same
    predictions); an option changes the student; and a second run in the same folder that differs
    only in its methods trains no model, supervisor or ceiling again (``WeakToStrongConfig.shared``)."""
    import autoalign.protocols.weak_to_strong as w2s
    from autoalign.runtime.context import RunContext

    monkeypatch.setattr(w2s, "fit_and_predict", _stand_in_supervisor)
    cfg = load_config(
        "configs/weak_to_strong.yaml",
        TINY + ["weak_to_strong.methods=[confidence, tunable]"],
    )
    store, _ = open_run(cfg, tmp_path / "run")
    r = execute(store, cfg)["weak_to_strong"]["weak_to_strong"]
    (pair,) = r["pairs"].values()
    assert pair["methods"]["tunable"]["student"] == pair["methods"]["confidence"]["student"]
    tuned = store.finished_stages["w2s.micro-tiny.tunable.0"]["result"]["test"]
    assert tuned == store.finished_stages["w2s.micro-tiny.confidence.0"]["result"]["test"]

    files = set((store.path / "stages").glob("*.json"))
    w = cfg.weak_to_strong.model_copy(
        update={"methods": ["tunable"], "method_options": {"tunable": {"lr_scale": 3.0, "label_temperature": 0.5}}}
    )
    ctx = RunContext(str(store.path), cfg.seed, 1, cfg.bootstrap_resamples)
    w2s.run_task(ctx, w)
    new = [json.loads(f.read_text()) for f in set((store.path / "stages").glob("*.json")) - files]
    assert sorted(r["name"] for r in new) == ["w2s.micro-tiny.tunable.0", "w2s.score"]
    (student,) = [r for r in new if r["name"] == "w2s.micro-tiny.tunable.0"]
    assert student["result"]["test"] != tuned
