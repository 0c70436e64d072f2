import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from autoalign.worlds import ArithmeticConfig, check_solution, generate, parse_prompt
from autoalign.worlds.arithmetic import apply_op


def test_same_seed_same_problems_and_different_seed_differs():
    a = generate(1, 50, min_steps=2, max_steps=6)
    assert a == generate(1, 50, min_steps=2, max_steps=6)
    assert a != generate(2, 50, min_steps=2, max_steps=6)


def _draw_as_specified(rng: random.Random, cfg: ArithmeticConfig):
    """The draw as first written (every operation from each value enumerated afresh): the problems a
    seed gives, which the cached draw must reproduce draw for draw."""
    n = rng.randint(cfg.min_steps, cfg.max_steps)
    while True:
        value = rng.randint(cfg.min_operand, cfg.max_operand) % cfg.modulus
        start, ops, steps = value, [], []
        for _ in range(n):
            choices = []
            for op in cfg.operators:
                for b in range(cfg.min_operand, cfg.max_operand + 1):
                    r = apply_op(value, op, b, cfg.modulus)
                    if r is None:
                        continue
                    raw = {"+": value + b, "-": value - b, "*": value * b}.get(op)
                    if not cfg.allow_wrap and op != "/" and not 0 <= raw < cfg.modulus:
                        continue
                    choices.append((op, b, r))
            if not choices:
                break
            op = rng.choice(sorted({c[0] for c in choices}))
            _, b, r = rng.choice([c for c in choices if c[0] == op])
            ops.append((op, b))
            steps.append((value, op, b, r))
            value = r
        if len(steps) == n:
            return start, tuple(ops), tuple(steps)


@pytest.mark.parametrize(
    "cfg",
    [
        ArithmeticConfig(),
        ArithmeticConfig(operators="+-*/", min_operand=0, max_operand=12, modulus=50, allow_wrap=True),
        ArithmeticConfig(operators="/*", max_operand=30, modulus=1000, min_steps=1, max_steps=8),
        ArithmeticConfig(operators="++-", modulus=7),  # a repeated operator weighs its operations twice
    ],
)
def test_the_cached_draw_gives_the_same_problems_as_the_draw_specified(cfg):
    for seed in range(3):
        rng = random.Random(f"arithmetic:{seed}")
        expected = [_draw_as_specified(rng, cfg) for _ in range(300)]
        assert [(p.start, p.ops, p.steps) for p in generate(seed, 300, cfg)] == expected


def test_the_specified_draw_is_a_real_reference():
    """Negative control: a draw that picks operations uniformly (not operator first) is told apart."""
    cfg = ArithmeticConfig(operators="+-*/", max_operand=9)
    rng = random.Random("arithmetic:0")
    expected = [_draw_as_specified(rng, cfg) for _ in range(100)]
    rng = random.Random("arithmetic:0")
    uniform = []
    for _ in range(100):
        n = rng.randint(cfg.min_steps, cfg.max_steps)
        value = rng.randint(cfg.min_operand, cfg.max_operand) % cfg.modulus
        start, ops, steps = value, [], []
        for _ in range(n):
            choices = [(op, b, apply_op(value, op, b, 100)) for op in "+-*/" for b in range(1, 10)]
            op, b, r = rng.choice([c for c in choices if c[2] is not None])
            ops.append((op, b))
            steps.append((value, op, b, r))
            value = r
        uniform.append((start, tuple(ops), tuple(steps)))
    assert uniform != expected


def test_knobs_are_respected():
    cfg = ArithmeticConfig(min_steps=3, max_steps=7, operators="+*", min_operand=2, max_operand=5, modulus=50)
    for p in generate(0, 200, cfg):
        assert 3 <= p.n_steps <= 7
        for a, op, b, r in p.steps:
            assert op in "+*" and 2 <= b <= 5 and 0 <= r < 50
            assert apply_op(a, op, b, 50) == r


def test_division_is_exact_and_wrap_allowed_when_asked():
    problems = generate(0, 200, ArithmeticConfig(operators="/*", max_operand=6, allow_wrap=True, modulus=13))
    assert any(op == "/" for p in problems for _, op, _, _ in p.steps)
    for p in problems:
        for a, op, b, r in p.steps:
            if op == "/":
                assert a % b == 0 and r == a // b


def test_bad_knobs_fail():
    with pytest.raises(ValidationError):
        ArithmeticConfig(min_steps=-1)
    with pytest.raises(ValidationError):
        ArithmeticConfig(min_steps=5, max_steps=3)
    with pytest.raises(ValidationError):
        ArithmeticConfig(operators="+^")


def test_gold_solution_is_correct_at_every_step():
    for p in generate(3, 100):
        v = check_solution(p, p.solution)
        assert v.correct and v.well_formed and all(v.step_labels) and v.first_error is None
        assert len(v.step_labels) == p.n_steps


def test_a_slip_is_labelled_at_its_step_and_carried_forward():
    p = parse_prompt("7+5*3-4=")
    assert p.solution == "7+5=12;12*3=36;36-4=32;#32"
    v = check_solution(p, "7+5=12;12*3=35;35-4=31;#31")
    assert v.step_labels == [True, False, False] and not v.correct and v.first_error == 1
    # the right answer reached through a wrong step is still a correct final answer
    v = check_solution(p, "7+5=13;12*3=36;36-4=32;#32")
    assert v.step_labels == [False, True, True] and v.correct


def test_malformed_text_is_wrong_not_a_crash():
    p = parse_prompt("7+5*3-4=")
    for text in ["", "#", "garbage", "7+5=12;;;#", "7+5=12;12*3=36", ";#32x", "7+5=1e3;#9", "\n\n#32"]:
        v = check_solution(p, text)
        assert not v.well_formed


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/=;#\nab ", max_size=60))
def test_checker_never_raises(text):
    p = generate(0, 1)[0]
    v = check_solution(p, text)
    assert len(v.step_labels) == len(v.step_texts)


def test_prompt_round_trip():
    for p in generate(5, 50):
        assert parse_prompt(p.prompt) == p
    with pytest.raises(ValueError):
        parse_prompt("seven plus five")
