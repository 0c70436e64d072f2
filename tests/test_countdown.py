from hypothesis import given, settings
from hypothesis import strategies as st

from autoalign.worlds.countdown import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    CountdownProblem,
    check_solution,
    generate,
    parse_prompt,
    reachable,
)


def test_deterministic_and_gold_solutions_are_correct():
    a = generate(0, 200)
    assert a == generate(0, 200) and a != generate(1, 200)
    for p in a:
        v = check_solution(p, p.solution)
        assert v.correct and all(g == POSITIVE for g in v.step_grades), p
        assert 2 <= p.n_steps <= 3 and 10 <= p.target <= 99 and p.target not in p.numbers


def test_three_step_grades():
    p = CountdownProblem((3, 5, 7, 2), 24, ())
    v = check_solution(p, "5*3=15;15+7=22;22+2=24;#24")
    assert v.step_grades == [POSITIVE, POSITIVE, POSITIVE] and v.correct
    # valid arithmetic, but 24 can no longer be made from {2, 3, 35}? 35-3*... check with the solver
    v = check_solution(p, "5*7=35;35+3=38;#38")
    assert v.step_grades[0] == (POSITIVE if reachable((2, 3, 35), 24) else NEUTRAL)
    assert v.step_grades[1] == NEUTRAL and not v.correct
    v = check_solution(p, "5*5=25;25-1=24;#24")  # only one 5; 1 is not available
    assert v.step_grades == [NEGATIVE, NEGATIVE] and not v.correct
    v = check_solution(p, "5*3=16;#16")  # bad arithmetic
    assert v.step_grades == [NEGATIVE]
    v = check_solution(p, "5*3=15;15+7=22;22+2=24;#25")  # the stated answer must be the target
    assert not v.correct


def test_reachability_solver():
    assert reachable((3, 5, 7, 2), 24)
    assert not reachable((1, 1), 5)
    assert reachable((4, 6), 24) and reachable((9, 3), 3)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789+-*/=;#,>", max_size=40))
def test_checker_never_raises(text):
    p = generate(0, 1)[0]
    v = check_solution(p, text)
    assert len(v.step_grades) == len(v.step_texts)


def test_prompt_round_trip():
    p = generate(3, 1)[0]
    q = parse_prompt(p.prompt)
    assert q.numbers == p.numbers and q.target == p.target
