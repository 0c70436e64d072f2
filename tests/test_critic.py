"""Critiques: the parser never crashes, grading follows the checker, tampering and the rater are exact."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from autoalign.overseers.critic import grade_critique, parse_critique, write_critique
from autoalign.protocols.gdc_gaps.rater import closed_form_expectation as rater_finds
from autoalign.worlds.arithmetic import check_solution, generate
from autoalign.worlds.tampering import FLAWS, locally_invalid_steps, tamper


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(), st.binary(), st.none(), st.integers(), st.from_regex(r"step -?\d{0,5} wrong, should be .{0,6}")
    )
)
def test_parser_never_crashes(text):
    c = parse_critique(text)
    assert c.step is None or c.step >= 0
    assert not (c.says_no_flaw and c.step is not None)


def test_parse_and_grade():
    assert (
        parse_critique(write_critique(1, 36)).step == 1 and parse_critique("step 2 wrong, should be 36").value == "36"
    )
    assert parse_critique("no flaw\nstep 1 wrong, should be 3").says_no_flaw  # only the first line counts
    for bad in [
        "step 0 wrong, should be 3",
        "step two wrong",
        "no flaws",
        "step 2 wrong, should be",
        "Step 2 wrong, should be 3",
    ]:
        c = parse_critique(bad)
        assert not c.well_formed and c.step is None and not c.says_no_flaw
    g = grade_critique(parse_critique("step 2 wrong, should be 36"), 1, 36)
    assert g.right and g.caught and g.value_right and not g.hallucination
    g = grade_critique(parse_critique("step 1 wrong, should be 36"), 1, 36)
    assert not g.right and g.hallucination  # flags a sound step of a flawed solution
    assert grade_critique(parse_critique("no flaw"), None, None).right
    assert grade_critique(parse_critique("step 3 wrong, should be 1"), None, None).hallucination
    assert not grade_critique(parse_critique("garbage"), 0, 5).right  # a malformed critique misses


def test_every_flaw_kind_is_found_by_the_checker_at_its_step():
    rng = random.Random(0)
    for p in generate(1, 200, min_steps=1, max_steps=5):
        assert locally_invalid_steps(p, p.solution) == []
        for kind in FLAWS:
            t = tamper(p, kind, rng)
            assert check_solution(p, t.text).first_error == t.flawed_step, (kind, p.solution, t.text)
            assert locally_invalid_steps(p, t.text)[0] == t.flawed_step
            assert t.text != p.solution  # (the final answer may still be right: 0*4 = 0*3)


def test_rater_with_and_without_a_pointer():
    assert rater_finds(4, {2}, 1, None) == 0.25
    assert rater_finds(4, {2}, 1, 2) == 1.0
    assert rater_finds(4, {2}, 1, 0) == 0.0  # a wrong pointer uses up the budget
    assert abs(rater_finds(4, {2}, 2, 0) - 1 / 3) < 1e-12
    assert rater_finds(3, {0, 1}, 5, None) == 1.0
