"""Countdown: reach a target from a few given numbers with + - * /, each number used at most once.

The world where checking is easier than solving. Finding a solution needs search; checking a step
is one operation. Step grades follow PRM800K's three: *positive* (valid arithmetic on available
numbers, and the target is still reachable from what remains), *neutral* (valid, but the target can
no longer be reached), *negative* (invalid arithmetic, or a number that is not available). A step
is labelled correct for a PRM iff it is positive.

    prompt:    3,5,7,2>24=
    solution:  5*3=15;15+7=22;22+2=24;#24
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..records import Verdict
from ..registry import worlds
from .arithmetic import ANSWER_MARK, PROMPT_END, STEP_SEP, split_solution, step_spans
from .base import ChainRules, Problem, Tampered, World

_STEP_RE = re.compile(r"^(\d+)([+\-*/])(\d+)=(\d+)$")
POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"


class CountdownConfig(BaseModel):
    """Difficulty knobs of the countdown world."""

    model_config = ConfigDict(extra="forbid")

    n_numbers: int = Field(4, ge=2, le=6, description="Numbers given.")
    min_number: int = Field(1, ge=1)
    max_number: int = Field(9, ge=1)
    min_target: int = Field(10, ge=0)
    max_target: int = Field(99, ge=1)
    operators: str = Field("+-*/", min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "CountdownConfig":
        if self.min_number > self.max_number or self.min_target > self.max_target:
            raise ValueError("min must be <= max")
        if set(self.operators) - set("+-*/"):
            raise ValueError("operators must be drawn from '+-*/'")
        return self


def countdown_op(a: int, op: str, b: int) -> int | None:
    """Natural-number arithmetic: no negative results, division only when exact."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b if a >= b else None
    if op == "*":
        return a * b
    if op == "/":
        return a // b if b and a % b == 0 else None
    return None


@lru_cache(maxsize=200_000)
def reachable(numbers: tuple[int, ...], target: int, operators: str = "+-*/") -> bool:
    """Can ``target`` be made from the sorted multiset ``numbers`` (each used at most once)?"""
    if target in numbers:
        return True
    n = len(numbers)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            rest = [numbers[k] for k in range(n) if k not in (i, j)]
            for op in operators:
                r = countdown_op(numbers[i], op, numbers[j])
                if r is not None and reachable(tuple(sorted(rest + [r])), target, operators):
                    return True
    return False


@dataclass(frozen=True)
class CountdownProblem(Problem):
    numbers: tuple[int, ...]
    target: int
    steps: tuple[tuple[int, str, int, int], ...]  # one gold solution

    @property
    def prompt(self) -> str:
        return ",".join(map(str, self.numbers)) + ">" + str(self.target) + PROMPT_END

    @property
    def answer(self) -> int:
        return self.target

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def solution(self) -> str:
        return STEP_SEP.join([f"{a}{op}{b}={r}" for a, op, b, r in self.steps] + [f"{ANSWER_MARK}{self.target}"])

    @property
    def step_spans(self) -> tuple[tuple[int, int], ...]:
        return tuple(step_spans(self.solution))

    @property
    def extras(self) -> dict:
        return {"numbers": self.numbers, "target": self.target, "steps": self.steps}


def _draw(rng: random.Random, cfg: CountdownConfig) -> CountdownProblem:
    while True:
        numbers = [rng.randint(cfg.min_number, cfg.max_number) for _ in range(cfg.n_numbers)]
        pool = list(numbers)
        steps = []
        for _ in range(rng.randint(2, cfg.n_numbers - 1) if cfg.n_numbers > 2 else 1):
            i, j = rng.sample(range(len(pool)), 2)
            op = rng.choice(cfg.operators)
            r = countdown_op(pool[i], op, pool[j])
            if r is None or r == 0:
                break
            steps.append((pool[i], op, pool[j], r))
            pool = [x for k, x in enumerate(pool) if k not in (i, j)] + [r]
        if len(steps) < min(2, cfg.n_numbers - 1):
            continue
        target = steps[-1][3]
        if cfg.min_target <= target <= cfg.max_target and target not in numbers:
            return CountdownProblem(tuple(numbers), target, tuple(steps))


def generate(seed: int, n: int, config: CountdownConfig | None = None, **knobs) -> list[CountdownProblem]:
    cfg = config or CountdownConfig(**knobs)
    rng = random.Random(f"countdown:{seed}")
    return [_draw(rng, cfg) for _ in range(n)]


def grade_steps(problem: CountdownProblem, steps: list[str], operators: str = "+-*/") -> list[str]:
    """PRM800K-style grade of every written step; a step after a negative one is graded on the
    numbers available at that point (the invalid step consumed nothing)."""
    pool = Counter(problem.numbers)
    grades = []
    for s in steps:
        m = _STEP_RE.match(s)
        if m is None:
            grades.append(NEGATIVE)
            continue
        a, op, b, r = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        need = Counter([a, b])
        ok = op in operators and all(pool[x] >= c for x, c in need.items()) and countdown_op(a, op, b) == r
        if not ok:
            grades.append(NEGATIVE)
            continue
        pool -= need
        pool[r] += 1
        remaining = tuple(sorted(pool.elements()))
        grades.append(POSITIVE if reachable(remaining, problem.target, operators) else NEUTRAL)
    return grades


def check_solution(problem: CountdownProblem, text: str, operators: str = "+-*/") -> Verdict:
    """Correct iff every step is valid and the last result and the stated answer are the target.
    A step with an operator outside ``operators`` is invalid (negative)."""
    steps, answer_raw = split_solution(text)
    grades = grade_steps(problem, steps, operators)
    answer = int(answer_raw) if answer_raw is not None and answer_raw.isdigit() else None
    valid = bool(steps) and all(g != NEGATIVE for g in grades)
    last = _STEP_RE.match(steps[-1]) if steps else None
    reached = last is not None and int(last.group(4)) == problem.target
    labels = [g == POSITIVE for g in grades]
    return Verdict(
        step_texts=steps,
        step_labels=labels,
        answer=answer,
        correct=valid and reached and answer == problem.target,
        well_formed=answer is not None and last is not None,
        first_error=next((i for i, ok in enumerate(labels) if not ok), None),
        step_grades=grades,
    )


def parse_prompt(prompt: str) -> CountdownProblem:
    m = re.fullmatch(r"(\d+(?:,\d+)+)>(\d+)" + re.escape(PROMPT_END) + "?", prompt.strip())
    if m is None:
        raise ValueError(f"not a countdown prompt: {prompt!r}")
    return CountdownProblem(tuple(int(x) for x in m.group(1).split(",")), int(m.group(2)), ())


def _draw_chain(rng: random.Random, cfg: CountdownConfig, fewest: int, most: int) -> tuple[int, tuple]:
    """A countdown solution in left-to-right form: given numbers combined in order, each result with the
    next number (``5*3+7+2``), every value in 1..max_target; the operator is drawn first among those
    allowed, so that rare-but-valid ones keep their share."""
    n = rng.randint(fewest, most)
    while True:
        numbers = [rng.randint(cfg.min_number, cfg.max_number) for _ in range(n + 1)]
        value, ops = numbers[0], []
        for b in numbers[1:]:
            allowed = {
                op: r
                for op in cfg.operators
                if (r := countdown_op(value, op, b)) is not None and 1 <= r <= cfg.max_target
            }
            if not allowed:
                break
            op = rng.choice(sorted(allowed))
            ops.append((op, b))
            value = allowed[op]
        if len(ops) == n:
            return numbers[0], tuple(ops)


def _replay(problem: CountdownProblem, i: int, change) -> tuple[list[tuple[int, str, int, int]], int]:
    """The gold steps with step ``i`` changed by ``change(a, op, b, r) -> (op, r)``; the new result
    replaces the old one where a later step uses it, and those steps are recomputed."""
    steps, swap = [], None  # swap: (old value, new value) still to be substituted once
    for k, (a, op, b, r) in enumerate(problem.steps):
        if swap is not None and swap[0] in (a, b):
            if a == swap[0]:
                a = swap[1]
            else:
                b = swap[1]
            r = countdown_op(a, op, b)
            r = r if r is not None else 0
            swap = (problem.steps[k][3], r)
        if k == i:
            op2, r2 = change(a, op, b, r)
            swap, op, r = (r, r2), op2, r2
        steps.append((a, op, b, r))
    return steps, steps[-1][3]


@worlds.register("countdown")
class CountdownWorld(World):
    """Countdown as a World. Flaws: a wrong result carried forward, or a wrong operator (the
    arithmetic right for it), each planted in a gold solution."""

    name = "countdown"
    Config = CountdownConfig
    flaw_kinds = ("carried", "operator")
    correction_pattern = r"\d{1,6}"

    def draw(self, rng: random.Random) -> CountdownProblem:
        return _draw(rng, self.config)

    def check(self, problem: CountdownProblem, text: str) -> Verdict:
        return check_solution(problem, text, self.config.operators)

    def steps(self, text: str) -> list[tuple[int, int]]:
        return step_spans(text)

    def tamper(self, problem: CountdownProblem, kind: str, rng: random.Random) -> Tampered:
        i = rng.randrange(problem.n_steps)
        if kind not in self.flaw_kinds:
            raise ValueError(f"unknown countdown flaw {kind!r}")
        if kind == "carried":

            def change(a, op, b, r):
                return op, max(0, r + rng.choice([-3, -2, -1, 1, 2, 3]))
        elif kind == "operator":

            def change(a, op, b, r):
                options = [(o, countdown_op(a, o, b)) for o in "+-*/" if o != op]
                options = [(o, v) for o, v in options if v is not None and v != r]
                return rng.choice(options) if options else (op, r + 1)

        for _ in range(20):  # keep a copy the checker calls wrong; record the step it blames
            steps, final = _replay(problem, i, change)
            text = STEP_SEP.join([f"{a}{op}{b}={r}" for a, op, b, r in steps] + [f"{ANSWER_MARK}{final}"])
            v = self.check(problem, text)
            if v.first_error is not None and not v.correct:
                return Tampered(text, v.first_error, kind)
            i = rng.randrange(problem.n_steps)
        return Tampered(text.replace(f"{ANSWER_MARK}{final}", f"{ANSWER_MARK}{final + 1}"), problem.n_steps, kind)

    def correction(self, problem: CountdownProblem, text: str, step: int) -> str:
        """The value the step should have had: its operation's true result if its arithmetic is wrong
        (a model may take another path than the gold one), else the gold step's result; the target for
        the answer line (any step past those written)."""
        steps, _ = split_solution(text)
        if step >= len(steps):
            return str(problem.target)
        m = _STEP_RE.match(steps[step].replace(" ", ""))
        if m:
            true = countdown_op(int(m.group(1)), m.group(2), int(m.group(3)))
            if true is not None and true != int(m.group(4)):
                return str(true)
        return str(problem.steps[step][3] if step < problem.n_steps else problem.target)

    def parse_prompt(self, prompt: str) -> CountdownProblem:
        return parse_prompt(prompt)

    def chains(self) -> ChainRules:
        """Left-to-right solutions as number chains (``_draw_chain``; ``n_numbers`` and ``min_target`` do
        not apply). Their splits are hashed apart from countdown problems', under the name they have
        always had."""
        cfg = self.config
        return ChainRules(
            "rrm_countdown", cfg.max_target + 1, lambda rng, lo, hi: _draw_chain(rng, cfg, lo, hi), countdown_op
        )
