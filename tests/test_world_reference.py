"""``world: {name, ...knobs}``: a world named in a config is checked against that world's own knobs
and saves back to the same mapping."""

import pytest
from pydantic import ValidationError

from autoalign.worlds.base import Problem
from autoalign.worlds.reference import WorldRef, world_ref


def test_a_reference_round_trips_and_builds_its_world():
    ref = WorldRef.model_validate({"name": "countdown", "n_numbers": 3})
    dumped = ref.model_dump()
    assert dumped["name"] == "countdown" and dumped["n_numbers"] == 3 and "max_number" in dumped
    assert WorldRef.model_validate(dumped) == ref
    assert WorldRef.model_validate("countdown").model_dump()["n_numbers"] != 3  # a bare name: the defaults
    world = ref.make()
    p = world.problems(0, "test", 1)[0]
    assert isinstance(p, Problem) and p.n_steps == 2 and world.check(p, p.solution).correct
    assert [p.solution[a:b] for a, b in p.step_spans] == world.step_texts(p.solution)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "arithmetic", "max_stepz": 3}, "world 'arithmetic': max_stepz: unknown key"),
        ({"name": "arithmetic", "min_steps": 0}, "min_steps: Input should be greater than or equal to 1"),
        ({"name": "nowhere"}, "unknown world 'nowhere'"),
        ({"min_steps": 2}, "expected a world"),
    ],
)
def test_bad_references_name_the_knob(data, message):
    with pytest.raises(ValidationError, match=message):
        WorldRef.model_validate(data)


def test_capabilities_say_what_a_world_can_do():
    assert world_ref("arithmetic").capabilities() >= {"solutions", "flaws"}
    assert "flaws" not in world_ref("facts").capabilities()
    assert "solutions" not in world_ref("digits").capabilities()
