"""GDC on any world: the config names a registered world, refuses one without planted flaws, checks
flaw kinds against the world's own, and critiques a world built from the World contract alone."""

from __future__ import annotations

import random
import re

import pytest
from pydantic import BaseModel, ConfigDict

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.overseers.critic import CRITIQUE, DISCRIMINATE, FLAWED, SOUND
from autoalign.protocols.gdc_gaps import evaluation_items, task_item
from autoalign.protocols.gdc_gaps.config import GdcConfig
from autoalign.protocols.gdc_gaps.critiques import grade, read_critique, right_critique
from autoalign.protocols.gdc_gaps.own_samples import label_samples
from autoalign.protocols.gdc_gaps.own_training import own_items
from autoalign.records import Verdict
from autoalign.registry import worlds
from autoalign.worlds.base import ProblemRecord, Tampered, World
from autoalign.worlds.reference import world_ref

LETTERS = "abcdefghijklmnopqrstuvwxyz"


class HopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_hops: int = 6


def _spans(text: str) -> list[tuple[int, int]]:
    line, spans, start = text.split("\n", 1)[0], [], 0
    for i, ch in enumerate(line):
        if ch == ",":
            spans.append((start, i + 1))
            start = i + 1
    if start < len(line):
        spans.append((start, len(line)))
    return spans


def _walk(start: str, hops: int, skip: int | None = None) -> str:
    """``a>b,b>c,!c``: one hop to the next letter per step; at step ``skip`` a hop two letters on."""
    at, out = start, []
    for i in range(hops):
        nxt = LETTERS[(LETTERS.index(at) + (2 if i == skip else 1)) % len(LETTERS)]
        out.append(f"{at}>{nxt}")
        at = nxt
    return ",".join(out + [f"!{at}"])


@worlds.register("gdc_test_hops")
class HopWorld(World):
    """A world written only against the World contract: its own step format, one flaw kind."""

    name = "gdc_test_hops"
    Config = HopConfig
    flaw_kinds = ("long_hop",)

    def draw(self, rng):
        start, hops = rng.choice(LETTERS), rng.randint(1, self.config.max_hops)
        solution = _walk(start, hops)
        return ProblemRecord(
            prompt=f"{start}{hops}=",
            solution=solution,
            answer=solution.rsplit("!", 1)[1],
            n_steps=hops,
            step_spans=tuple(_spans(solution)),
        )

    def steps(self, text):
        return _spans(text)

    def check(self, problem, text):
        pieces = [text[a:b].rstrip(",") for a, b in _spans(text)]
        steps = [p for p in pieces if not p.startswith("!")]
        gold = problem.solution.split(",")
        labels = [i < problem.n_steps and s == gold[i] for i, s in enumerate(steps)]
        answer = next((p[1:] for p in pieces if p.startswith("!")), None)
        return Verdict(
            step_texts=steps,
            step_labels=labels,
            answer=answer,
            correct=answer == problem.answer,
            well_formed=answer is not None and len(steps) == problem.n_steps,
            first_error=next((i for i, ok in enumerate(labels) if not ok), None),
        )

    def tamper(self, problem, kind, rng):
        i = rng.randrange(problem.n_steps)
        return Tampered(_walk(problem.prompt[0], problem.n_steps, skip=i), i, kind)


@worlds.register("gdc_test_plain")
class PlainHopWorld(HopWorld):
    """The same world with no planted flaws."""

    name = "gdc_test_plain"
    flaw_kinds = ()


def _load(*overrides: str):
    return load_config("configs/gdc_gaps.yaml", list(overrides))


def _one_line_error(*overrides: str) -> str:
    with pytest.raises((UserError, ValueError)) as e:
        _load(*overrides)
    return str(e.value)


def test_a_world_without_planted_flaws_is_refused_at_load_in_one_line():
    for name, lacks in (("facts", "solutions"), ("digits", "solutions"), ("gdc_test_plain", "flaws")):
        msg = _one_line_error(f"gdc.world={name}")
        assert "\n" not in msg and f"gdc.world: Value error, world {name!r} has no {lacks} (" in msg, msg
        offered = msg.split("worlds that have it: ")[1].split(", ")  # where to turn instead
        assert {"arithmetic", "countdown"} <= set(offered) and name not in offered


def test_an_unknown_flaw_kind_names_the_worlds_flaw_kinds():
    msg = _one_line_error("gdc.flaws=[typo]")
    assert (
        "gdc.flaws: Value error, 'typo' is not a flaw of world 'arithmetic'; use ['carried', 'slip', 'operator', "
        "'operand']" in msg
    ), msg
    msg = _one_line_error("gdc.world={name: countdown}", "gdc.flaws=[slip]")  # arithmetic's, not countdown's
    assert "'slip' is not a flaw of world 'countdown'; use ['carried', 'operator']" in msg, msg
    assert _load("gdc.world={name: countdown}", "gdc.flaws=[operator]").gdc.flaws == ["operator"]


def test_the_world_is_one_reference_and_the_old_keys_are_gone():
    g = GdcConfig()
    assert g.world.model_dump() == world_ref("arithmetic", min_steps=1, max_steps=3, operators="+-").model_dump()
    assert _load("gdc.world={name: countdown, n_numbers: 3}").gdc.world.config.n_numbers == 3
    assert "n_numberz" in _one_line_error("gdc.world={name: countdown, n_numberz: 3}")  # a knob typo, by name
    assert "gdc.world_name: unknown key" in _one_line_error("gdc.world_name=countdown")
    assert "gdc_test_hops" in _one_line_error("gdc.world=gdc_test_hops", "gdc.flaws=[carried]")
    assert _load("gdc.world=gdc_test_hops").gdc.world.make().flaw_kinds == ("long_hop",)


def test_a_contract_only_world_gets_critiques_of_its_own_steps():
    g = GdcConfig(world={"name": "gdc_test_hops"})
    world = g.world.make()
    problems = world.problems(0, "train", 20)
    rng = random.Random(0)
    item = task_item(g, world)
    pairs = [item(2, p, rng) for p in problems for _ in range(4)]
    flagged = [t for _, t in pairs if t != "no flaw"]
    assert flagged and all(
        re.fullmatch(r"step \d wrong, should be [a-z]>[a-z],?|step \d wrong, should be ![a-z]", t) for t in flagged
    ), flagged
    assert {t for q, t in (item(1, p, rng) for p in problems)} <= {FLAWED, SOUND}
    assert all(q.endswith(CRITIQUE) for q, _ in pairs) and item(1, problems[0], rng)[0].endswith(DISCRIMINATE)
    p = problems[0]
    t = world.tamper(p, "long_hop", rng)
    target = right_critique(world, p, t.text, t.flawed_step)
    assert target == f"step {t.flawed_step + 1} wrong, should be {world.gold_step(p, t.flawed_step).strip()}"
    assert read_critique(world, target).step == t.flawed_step
    assert (
        grade(world, p, t.text, t.flawed_step, target).right
        and grade(world, p, t.text, t.flawed_step, target).value_right
    )
    assert grade(world, p, t.text, t.flawed_step, "no flaw").caught is False
    assert grade(world, p, p.solution, None, "no flaw").right
    # an own sample with an early answer: the answer step is what it should have written
    early = ",".join(p.solution.split(",")[:1] + ["!" + p.solution[2]]) if p.n_steps > 1 else p.solution
    rows = label_samples(world, [p], [p.solution, t.text, early], 3)
    items = own_items(rows, world, [p])
    assert len(items["sound"]) == 1 and len(items["flawed"]) == 1 + (p.n_steps > 1)
    if p.n_steps > 1:
        assert items["flawed"][-1][1][1] == f"step 2 wrong, should be !{p.answer}"


def test_evaluation_items_plant_the_worlds_flaws_half_the_time():
    class Ctx:
        seed = 0

    g = GdcConfig(world={"name": "gdc_test_hops"}, test_problems=10)
    problems = g.world.make().problems(0, "test", 10)
    items = evaluation_items(Ctx, g, problems)
    assert [it["kind"] for it in items[:2]] == ["sound", "long_hop"] and len(items) == 20
    assert all((it["flawed_step"] is None) == (it["text"] == problems[it["problem"]].solution) for it in items)
