"""Recursive reward modeling, unit-fast: both kinds of outcomes (number chains from arithmetic and
countdown; stretches of gold solutions from any world), the outcome encoding the reward models read,
assisted evaluation with an oracle, a liar and a guesser, config validation, and one tiny run end to
end on a world built only from the World contract."""

import random
import re

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.orchestration import execute, open_run
from autoalign.protocols.rrm import (
    END,
    RRMConfig,
    assisted_verdicts,
    make_outcomes,
    outcome_text,
    outcomes,
    user_unassisted,
)
from autoalign.records import Verdict
from autoalign.registry import worlds
from autoalign.worlds.base import ProblemRecord, Tampered, World
from autoalign.worlds.reference import world_ref


# -- a world written from the World contract alone: running sums of digits, mod 10 ----------------
class SumsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_digits: int = Field(2, ge=1)
    max_digits: int = Field(4, ge=1)


def _sums_solution(sums: list[int]) -> str:
    return "".join(f"s{v}," for v in sums) + f"={sums[-1]}"


def _spans(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in re.finditer(",", text):
        out.append((start, m.end()))
        start = m.end()
    return out + ([(start, len(text))] if start < len(text) else [])


@worlds.register("rrm_test_sums")
class RunningSums(World):
    """Digits ``3 1 4`` give ``s3,s4,s8,=8``: each step writes the running sum mod 10."""

    name = "rrm_test_sums"
    Config = SumsConfig
    flaw_kinds = ("carried",)

    def draw(self, rng):
        digits = [rng.randrange(10) for _ in range(rng.randint(self.config.min_digits, self.config.max_digits))]
        sums = [sum(digits[: i + 1]) % 10 for i in range(len(digits))]
        solution = _sums_solution(sums)
        return ProblemRecord(
            " ".join(map(str, digits)) + "?", solution, sums[-1], len(digits), tuple(_spans(solution)), {"sums": sums}
        )

    def steps(self, text):
        return _spans(text)

    def check(self, problem, text):
        parts = [text[a:b] for a, b in _spans(text)]
        steps = [p for p in parts if not p.startswith("=")]
        gold = [f"s{v}," for v in problem.extras["sums"]]
        labels = [i < len(gold) and s == gold[i] for i, s in enumerate(steps)]
        answer = next((p[1:] for p in parts if p.startswith("=")), None)
        return Verdict(
            steps,
            labels,
            answer,
            answer == str(problem.answer),
            answer is not None,
            next((i for i, ok in enumerate(labels) if not ok), None),
        )

    def tamper(self, problem, kind, rng):
        sums, i = list(problem.extras["sums"]), rng.randrange(problem.n_steps)
        shift = rng.randint(1, 9)
        sums = sums[:i] + [(v + shift) % 10 for v in sums[i:]]
        return Tampered(_sums_solution(sums), i, kind)


SOURCES = [  # (overrides, checkable steps, levels)
    (["rrm.world=arithmetic"], 2, 3),
    (["rrm.world=countdown"], 1, 3),
    (["rrm.world=countdown"], 2, 3),
    (["rrm.outcomes=solutions", "rrm.world={name: arithmetic, min_steps: 1, max_steps: 8}"], 2, 3),
    (["rrm.world={name: rrm_test_sums, min_digits: 1, max_digits: 4}"], 1, 3),
]


def config(overrides, checkable=2, levels=3, *more) -> RRMConfig:
    return load_config(
        "configs/rrm.yaml", [*overrides, f"rrm.checkable_steps={checkable}", f"rrm.levels={levels}", *more]
    ).rrm


def test_the_user_guesses_long_outcomes_at_the_declared_agreement():
    truth = [bool(i % 2) for i in range(20000)]
    said = user_unassisted(truth, 0.7, random.Random(0))
    agree = np.mean([a == b for a, b in zip(said, truth)])
    assert abs(agree - 0.7) < 0.015


@pytest.mark.parametrize("noise", ["rejects_right", "accepts_wrong"])
def test_one_sided_user_noise_errs_on_one_side_at_the_declared_agreement(noise):
    truth = [bool(i % 2) for i in range(20000)]
    said = user_unassisted(truth, 0.7, random.Random(0), noise)
    agree = np.mean([a == b for a, b in zip(said, truth)])
    assert abs(agree - 0.7) < 0.015
    wrong_on = {t for a, t in zip(said, truth) if a != t}
    assert wrong_on == {noise == "rejects_right"}


def test_levels_cover_the_chain_lengths():
    r = RRMConfig(checkable_steps=2, levels=3)
    assert r.outcome_kind == "chains" and r.world.name == "arithmetic"
    assert [r.steps_of(k) for k in (1, 2, 3)] == [(1, 2), (3, 4), (5, 8)]
    assert [r.level_of(n) for n in range(1, 9)] == [1, 1, 2, 2, 3, 3, 3, 3]
    items = outcomes(r, 3, 0, "test", 200)
    assert all(5 <= len(p.ops) <= 8 for p, _, _ in items)
    assert 0.4 < np.mean([t for _, _, t in items]) < 0.6
    assert all((c == p.answer) == t for p, c, t in items)
    assert outcome_text(7, (("+", 5),), 12) == "7+5=12"
    source = make_outcomes(r)
    assert source.is_right(source.head(items[0][0], 2), source.right_claim(source.head(items[0][0], 2)))


@pytest.mark.parametrize("overrides,checkable,levels", SOURCES)
def test_assisted_evaluation_with_an_oracle_is_exact_and_never_accepts_a_wrong_claim(overrides, checkable, levels):
    r = config(overrides, checkable, levels)
    source = make_outcomes(r)
    labelled = outcomes(r, levels, 0, "overseer", 300, source)
    items, truth = [(p, c) for p, c, _ in labelled], [t for _, _, t in labelled]
    assert 0.4 < np.mean(truth) < 0.6 and all(source.length(p) > checkable for p, _ in items)

    def oracle(level, pieces):
        return [source.right_claim(p) for p in pieces]

    stats: dict = {}
    assert assisted_verdicts(r, source, oracle, items, stats) == truth
    assert stats["user_checks"] >= 2 * len(items)
    assert all(all(v) for k, v in stats.items() if k.startswith("assistant_level"))

    # a liar states a wrong option for every first half: every right claim is rejected, no wrong one accepted
    def liar(level, pieces):
        return [next(o for o in source.options(p) if not source.is_right(p, o)) for p in pieces]

    said = assisted_verdicts(r, source, liar, items, {})
    assert not any(s and not t for s, t in zip(said, truth)) and not any(said)
    # any assistant at all (here: random options) never gets a wrong claim accepted
    rng = random.Random(0)

    def guess(level, pieces):
        return [rng.choice(source.options(p)) for p in pieces]

    assert not any(s and not t for s, t in zip(assisted_verdicts(r, source, guess, items, {}), truth))


def test_countdown_chains_follow_countdowns_rules():
    r = config(["rrm.world=countdown"], 1, 3)
    assert r.world.make().config.operators == "+-*/" and [r.steps_of(k) for k in (1, 2, 3)] == [(1, 1), (2, 2), (3, 4)]
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
        assert value == p.answer
    assert {op for p, _, _ in items for op, _ in p.ops} == set("+-*/")
    source = make_outcomes(r)
    # countdown arithmetic: no negative results, division only when exact; arithmetic wraps mod 100
    assert source.evaluate(3, (("-", 5),)) is None and source.evaluate(7, (("/", 2),)) is None
    assert make_outcomes(config(["rrm.world=arithmetic"])).evaluate(3, (("-", 5),)) == 98
    assert source.evaluate(8, (("/", 2), ("*", 3))) == 12


@pytest.mark.parametrize("overrides,checkable,levels", [SOURCES[0], SOURCES[1], SOURCES[3], SOURCES[4]])
def test_held_out_outcomes_are_disjoint_from_training_ones(overrides, checkable, levels):
    r = config(overrides, checkable, levels)
    source = make_outcomes(r)

    def text(p):
        item = source.item(p, source.right_claim(p))
        return item.prompt + item.body

    train = {text(p) for p, _, _ in outcomes(r, levels, 0, "overseer", 500, source)}
    train |= {text(p) for p in source.pieces(1, 8, 0, "train", 500, judged=False)}
    for split in ("val", "test"):
        held = {text(p) for p, _, _ in outcomes(r, levels, 0, split, 100, source)}
        assert len(held) == 100 and not held & train


def test_stretches_hide_the_steps_between_the_entry_and_the_claim():
    r = config(["rrm.world={name: rrm_test_sums, min_digits: 4, max_digits: 4}"], 1, 3)
    source = make_outcomes(r)
    assert source.kind == "solutions"
    p = next(p for p in source.pieces(3, 4, 0, "overseer", 50) if p.a > 0)
    item = source.item(p, source.right_claim(p))
    sums = p.problem.extras["sums"]
    assert item.prompt == f"{p.problem.prompt}s{sums[p.a - 1]},[{p.a}:{p.b}]"
    assert item.body == f"s{sums[p.b - 1]},{END}"
    options = source.options(p)
    assert source.right_claim(p) in options and 2 <= len(options) <= r.distractors + 1
    assert sum(source.is_right(p, o) for o in options) == 1
    head, tail = source.head(p, 1), source.tail(p, 1, "s0,")
    assert (head.a, head.b, tail.a, tail.b, tail.entry) == (p.a, p.a + 1, p.a + 1, p.b, "s0,")


def test_the_chain_encoding_is_prompt_then_a_terminated_claim():
    r = RRMConfig()
    source = make_outcomes(r)
    piece = source.tail(source.pieces(3, 3, 0, "train", 1)[0], 0, 7)
    item = source.item(piece, 9)
    assert item.prompt == "7" + "".join(f"{op}{b}" for op, b in piece.ops) + "=" and item.body == "9" + END
    assert item.prompt + "9" == outcome_text(7, piece.ops, 9)
    # the claim's end is marked, so a claim of 1 is not a prefix of a claim of 19
    assert not source.item(piece, 19).body.startswith(source.item(piece, 1).body)


@pytest.mark.parametrize(
    "bad,says",
    [
        ("rrm.world=chess", "unknown world 'chess'"),
        ("rrm.world=facts", "world 'facts' has no solutions"),
        ("rrm.world.operators=+x", "unknown operators"),
        ("rrm.operators=+-", "rrm.operators: unknown key"),
        ("rrm.model_size=huge", "model_size"),
        ("rrm.eval_split=overseer", "eval_split"),
        ("rrm.levels=4", "at most 8 steps"),
        ("rrm.checkable_steps=0", "checkable_steps"),
    ],
)
def test_rrm_config_rejects_bad_values_in_one_line(bad, says):
    with pytest.raises(UserError, match=re.escape(says)) as e:
        load_config("configs/rrm.yaml", [bad])
    assert "\n" not in str(e.value).strip()


def test_chains_on_a_world_without_them_and_solutions_on_one_without_flaws_are_refused():
    with pytest.raises(UserError, match="has no number chains; use rrm.outcomes: solutions"):
        load_config("configs/rrm.yaml", ["rrm.outcomes=chains", "rrm.world=rrm_test_sums"])
    assert RRMConfig(world=world_ref("rrm_test_sums")).outcome_kind == "solutions"


def test_both_configs_load_and_declare_the_primary_endpoint():
    for path, world in (("configs/rrm.yaml", "arithmetic"), ("configs/rrm_countdown.yaml", "countdown")):
        cfg = load_config(path, [])
        assert cfg.rrm.world.name == world and cfg.rrm.outcome_kind == "chains"
        primary = [(e.metric, e.direction, e.threshold) for e in cfg.endpoints if e.primary]
        assert primary == [("rrm.rrm.recursive_minus_unassisted", "greater", 0.0)]
        assert {e.metric for e in cfg.endpoints} >= {"rrm.rrm.ceiling", "rrm.rrm.recursive_minus_ceiling"}
    assert load_config("configs/rrm.yaml", []).rrm.world.model_dump()["operators"] == "+-"
    assert load_config("configs/rrm_countdown.yaml", []).rrm.world.model_dump()["operators"] == "+-*/"


def test_rrm_runs_end_to_end_on_a_world_built_from_the_contract_alone(tmp_path):
    cfg = load_config(
        "configs/rrm.yaml",
        [
            "bootstrap_resamples=100",
            "rrm.world={name: rrm_test_sums, min_digits: 1, max_digits: 4}",
            "rrm.checkable_steps=1",
            "rrm.levels=3",
            "rrm.model_size=micro",
            "rrm.train_outcomes=40",
            "rrm.test_outcomes=20",
            "rrm.pretrain_steps=5",
            "rrm.steps=3",
            "rrm.batch_size=8",
        ],
    )
    store, _ = open_run(cfg, tmp_path / "run")
    m = execute(store, cfg)["rrm"]["rrm"]
    assert m["world"] == "rrm_test_sums" and m["outcomes"] == "solutions" and m["long_chain_steps"] == [3, 4]
    assert m["label_accuracy"]["ceiling"] == 1.0
    assert abs(m["label_accuracy"]["unassisted"] - 0.7) < 0.25
    assert 0 < m["label_accuracy"]["recursive"] <= 1.0  # assisted labels reject right claims when a helper errs
    assert set(m["assistant_accuracy"]) == {"assistant_level1", "assistant_level2"}
    assert set(m["lower_levels"]) == {"level1", "level2"} and m["recursive"]["n"] == 20
    assert "Recursive reward modeling (rrm_test_sums" in store.file("report.html").read_text()
