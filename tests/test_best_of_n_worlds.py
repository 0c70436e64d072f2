"""Best-of-N names its worlds and overseers in config: mistakes fail at load in one line naming the
key, the run-level world is the one an entry of its name stands for, and a registered overseer is
fit on the checked samples and scored beside the built-in verifiers."""

import random
from dataclasses import asdict

import numpy as np
import pytest

from autoalign.config import config_from_dict
from autoalign.errors import UserError
from autoalign.overseers.base import Overseer, OverseerScores
from autoalign.records import Sample
from autoalign.registry import overseers
from autoalign.runtime.context import RunContext
from autoalign.runtime.store import write_jsonl
from autoalign.worlds.reference import world_ref


def load(best_of_n: dict, **top):
    return config_from_dict({"protocol": "best_of_n", **top, "best_of_n": best_of_n})


@pytest.mark.parametrize(
    "section, expect",
    [
        ({"worlds": ["no_such_world"]}, "best_of_n.worlds.0: Value error, unknown world 'no_such_world'"),
        (
            {"worlds": ["arithmetic", {"name": "countdown", "n_numbrs": 4}]},
            "best_of_n.worlds.1: Value error, world 'countdown': n_numbrs: unknown key",
        ),
        ({"worlds": ["facts"]}, "best_of_n.worlds: Value error, world 'facts' has no solutions"),
        ({"worlds": ["arithmetic", "arithmetic"]}, "best_of_n.worlds: Value error, world 'arithmetic' is listed twice"),
        ({"overseers": ["no_such_overseer"]}, "best_of_n.overseers: Value error, unknown overseer 'no_such_overseer'"),
        ({"overseers": ["orm"]}, "best_of_n.overseers: Value error, 'orm' is compared anyway"),
        (
            {"worlds": ["countdown"], "verifier": {"data": {"arithmetic": "x.jsonl"}}},
            "best_of_n.verifier: Value error, data: 'arithmetic' is not one of best_of_n.worlds (countdown)",
        ),
        (
            {"worlds": ["countdown"], "active_learning": {"world": "arithmetic"}},
            "best_of_n.active_learning: Value error, world: 'arithmetic' is not one of best_of_n.worlds",
        ),
    ],
)
def test_a_config_mistake_is_one_line_naming_the_key(section, expect):
    with pytest.raises(UserError) as e:
        load(section)
    assert expect in str(e.value) and "\n" not in str(e.value)


def test_the_run_level_world_needs_its_name():
    with pytest.raises(UserError, match=r"world: Value error, name the world: add `name: arithmetic`"):
        config_from_dict({"protocol": "generator", "world": {"min_steps": 2, "max_steps": 5}})
    assert config_from_dict({"protocol": "generator"}).world.model_dump()["max_steps"] == 5  # left out: arithmetic


def test_an_entry_with_the_run_level_worlds_name_is_that_world_even_after_a_round_trip():
    from autoalign.protocols.best_of_n import generator_stage, worlds_of

    cfg = load(
        {"worlds": ["arithmetic", {"name": "countdown", "n_numbers": 4}]}, world={"name": "arithmetic", "max_steps": 3}
    )
    refs = worlds_of(cfg)
    assert refs[0] is cfg.world and refs[0].config.max_steps == 3 and refs[1].config.n_numbers == 4
    assert [generator_stage(r, cfg) for r in refs] == ["train_generator", "countdown.train_generator"]
    again = config_from_dict(cfg.model_dump(mode="json"))  # as a fan-out worker or --resume reloads it
    assert worlds_of(again)[0].config.max_steps == 3
    clash = load({"worlds": [{"name": "arithmetic", "max_steps": 4}]}, world={"name": "arithmetic", "max_steps": 3})
    with pytest.raises(UserError, match="set its knobs in the `world` section"):
        worlds_of(clash)


class _SeesEverything(Overseer):
    """Records what it was fit on; scores a text by its own and its problem's length, so that the
    pairing of problems, texts and rows is checkable."""

    fitted: list = []

    def fit(self, problems, texts, verdicts):
        type(self).fitted = list(zip([p.prompt for p in problems], texts, [v.correct for v in verdicts]))
        assert self.ctx.backbone is not None and self.ctx.world.name == "arithmetic"
        return self

    def score(self, problems, texts):
        return [OverseerScores(_score(p.prompt, t)) for p, t in zip(problems, texts)]


def _score(prompt: str, text: str) -> float:
    return float(1000 * len(prompt) + len(text)) if len(text) % 7 else float("-inf")  # -inf: ranks last


def _rows(world, split, n, seed=0):
    rng = random.Random(seed)
    rows = []
    for i, p in enumerate(world.problems(0, split, n)):
        for text in (p.solution, world.tamper(p, "carried", rng).text, p.solution):  # a repeat: scored once
            rows.append(asdict(Sample.from_verdict(i, p, text, world.check(p, text))))
    return rows


def test_a_listed_overseer_is_fit_on_the_checked_samples_and_scores_every_test_row(tmp_path):
    from autoalign.models import build_char_tokenizer, build_model
    from autoalign.protocols.best_of_n import method_scores
    from autoalign.protocols.best_of_n.config import VerifierConfig
    from autoalign.protocols.best_of_n.overseers import fit_and_score_overseer

    overseers.register("test_sees_everything", _SeesEverything)
    cfg = load({"worlds": ["arithmetic"], "overseers": ["test_sees_everything"]})
    assert cfg.best_of_n.overseers == ["test_sees_everything"]
    tokenizer = build_char_tokenizer()
    model = build_model("llama", "micro", tokenizer, seed=0)
    model.save_pretrained(tmp_path / "run" / "models" / "gen")
    tokenizer.save_pretrained(tmp_path / "run" / "models" / "gen")
    ctx = RunContext(str(tmp_path / "run"), seed=0)
    ref = world_ref("arithmetic", max_steps=3)
    world = ref.make()
    train, test = _rows(world, "overseer", 5), _rows(world, "test", 4, seed=1)
    write_jsonl(ctx.file("samples", "train.jsonl"), train)
    write_jsonl(ctx.file("samples", "test.jsonl"), test)
    out = fit_and_score_overseer(
        ctx,
        ref,
        {"trained": True, "path": "models/gen"},
        "samples/train.jsonl",
        "samples/test.jsonl",
        "test_sees_everything",
        VerifierConfig(),
        5,
        4,
    )
    assert _SeesEverything.fitted == [(r["prompt"], r["text"], r["correct"]) for r in train]
    assert any(not c for _, _, c in _SeesEverything.fitted)  # the planted flaws are labelled wrong
    trained = {"loglik": out["scores"], "test_sees_everything": out}  # any list of scores serves as loglik here
    scores = method_scores(ctx, trained, test, "product", ["test_sees_everything"])["test_sees_everything"]
    expect = [_score(r["prompt"], r["text"]) for r in test]
    assert -np.inf in expect and len(set(expect)) > 2
    np.testing.assert_array_equal(scores, expect)


def test_a_data_file_joins_its_completions_as_the_world_writes_steps(tmp_path):
    from autoalign.protocols.best_of_n import data_examples
    from autoalign.stepwise import StepwiseExample, write_stepwise_jsonl

    ref = world_ref("arithmetic", max_steps=3)
    world = ref.make()
    problems = world.problems(0, "overseer", 6)
    steps = [[world.gold_step(p, i).rstrip(";") for i in range(p.n_steps + 1)] for p in problems]
    path = tmp_path / "labels.jsonl"
    write_stepwise_jsonl(path, [StepwiseExample(p.prompt, s, [True] * len(s)) for p, s in zip(problems, steps)])
    examples = data_examples(ref, str(path), ";")
    assert [e.text for e in examples] == [p.solution for p in problems]
    assert [list(e.spans) for e in examples] == [world.steps(p.solution) for p in problems]
    with pytest.raises(UserError, match=r"best_of_n.verifier.separator"):
        data_examples(ref, str(path), "\n")
