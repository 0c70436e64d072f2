"""Arithmetic chains: the workhorse world, where every reasoning step is machine-checkable.

A problem is an expression such as ``7+5*3-4`` evaluated strictly left to right. Its gold
solution writes one step per operation and ends with the answer::

    7+5=12;12*3=36;36-4=32;#32

Because each step is a single operation on the previous result, the checker can label every step
of any text a model writes: that makes step labels (process supervision) free. Results are taken
modulo ``modulus``; by default operations that would leave ``[0, modulus)`` are not drawn, so the
numbers stay natural and small.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..records import Verdict
from ..registry import worlds
from .base import ChainRules, Tampered, World
from .base import Problem as ProblemBase
from .chain_format import ANSWER_MARK, PROMPT_END, STEP_SEP, apply_op, split_solution, step_spans
from .chain_format import STEP_RE as _STEP_RE
from .tampering import locally_invalid_steps, misread_operand, tamper

OPERATORS = ("+", "-", "*", "/")


class ArithmeticConfig(BaseModel):
    """Difficulty knobs of the arithmetic-chains world."""

    model_config = ConfigDict(extra="forbid")

    min_steps: int = Field(2, ge=1, le=8, description="Fewest operations in a problem.")
    max_steps: int = Field(5, ge=1, le=8, description="Most operations in a problem.")
    operators: str = Field("+-*", min_length=1, description="Operators to draw from, any of '+-*/'.")
    min_operand: int = Field(1, ge=0, description="Smallest operand.")
    max_operand: int = Field(9, ge=1, description="Largest operand.")
    modulus: int = Field(100, ge=2, description="Every result is reduced modulo this number.")
    allow_wrap: bool = Field(False, description="Draw operations whose result leaves [0, modulus) and wraps around.")

    @model_validator(mode="after")
    def _check(self) -> "ArithmeticConfig":
        if self.min_steps > self.max_steps:
            raise ValueError("min_steps must be <= max_steps")
        if self.min_operand > self.max_operand:
            raise ValueError("min_operand must be <= max_operand")
        bad = set(self.operators) - set(OPERATORS)
        if bad:
            raise ValueError(f"unknown operators {''.join(sorted(bad))!r}; use any of '+-*/'")
        return self


@dataclass(frozen=True)
class Problem(ProblemBase):
    """An expression with its gold steps. ``steps[i]`` is ``(a, op, b, result)``."""

    start: int
    ops: tuple[tuple[str, int], ...]
    steps: tuple[tuple[int, str, int, int], ...]

    @property
    def prompt(self) -> str:
        return str(self.start) + "".join(f"{op}{b}" for op, b in self.ops) + PROMPT_END

    @property
    def answer(self) -> int:
        return self.steps[-1][3]

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def step_texts(self) -> list[str]:
        return [f"{a}{op}{b}={r}" for a, op, b, r in self.steps]

    @property
    def solution(self) -> str:
        return STEP_SEP.join(self.step_texts + [f"{ANSWER_MARK}{self.answer}"])

    @property
    def step_spans(self) -> tuple[tuple[int, int], ...]:
        return tuple(step_spans(self.solution))

    @property
    def extras(self) -> dict:
        return {"steps": self.steps}


@lru_cache(maxsize=1 << 16)
def _step_choices(
    value: int, operators: str, min_operand: int, max_operand: int, modulus: int, allow_wrap: bool
) -> tuple[tuple[str, ...], dict[str, tuple[tuple[str, int, int], ...]]]:
    """Every operation the world may draw from ``value``: its operators, sorted, and per operator its
    ``(op, b, result)`` in operand order. A pure function of the value and the knobs, so it is
    computed once per value (drawing a problem was a tenth of pretraining a weak-to-strong model)."""
    by_op: dict[str, list[tuple[str, int, int]]] = {}
    for op in operators:
        for b in range(min_operand, max_operand + 1):
            r = apply_op(value, op, b, modulus)
            if r is None:
                continue
            if not allow_wrap and op != "/":
                raw = {"+": value + b, "-": value - b, "*": value * b}[op]
                if not 0 <= raw < modulus:
                    continue
            by_op.setdefault(op, []).append((op, b, r))
    return tuple(sorted(by_op)), {op: tuple(c) for op, c in by_op.items()}


def _draw_problem(rng: random.Random, cfg: ArithmeticConfig) -> Problem:
    n = rng.randint(cfg.min_steps, cfg.max_steps)
    knobs = (cfg.operators, cfg.min_operand, cfg.max_operand, cfg.modulus, cfg.allow_wrap)
    while True:
        value = rng.randint(cfg.min_operand, cfg.max_operand) % cfg.modulus
        start, ops, steps = value, [], []
        for _ in range(n):
            operators, by_op = _step_choices(value, *knobs)
            if not operators:
                break
            # draw the operator first so that rare-but-valid operators keep their share
            op = rng.choice(operators)
            _, b, r = rng.choice(by_op[op])
            ops.append((op, b))
            steps.append((value, op, b, r))
            value = r
        if len(steps) == n:
            return Problem(start, tuple(ops), tuple(steps))


def generate(seed: int, n: int, config: ArithmeticConfig | None = None, **difficulty) -> list[Problem]:
    """``n`` problems, the same for the same seed and knobs."""
    cfg = config or ArithmeticConfig(**difficulty)
    if config is not None and difficulty:
        cfg = cfg.model_copy(update=difficulty)
    rng = random.Random(f"arithmetic:{seed}")
    return [_draw_problem(rng, cfg) for _ in range(n)]


def check_solution(problem: Problem, text: str, modulus: int = 100) -> Verdict:
    """Label every step of ``text`` against ``problem``; never raises on malformed text."""
    steps, answer_raw = split_solution(text)
    labels = []
    well_formed = answer_raw is not None and len(steps) == problem.n_steps
    for i, s in enumerate(steps):
        m = _STEP_RE.match(s)
        if m is None:
            labels.append(False)
            well_formed = False
            continue
        a, op, b, r = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        ok = i < problem.n_steps and (a, op, b) == problem.steps[i][:3]
        ok = ok and apply_op(a, op, b, modulus) == r == problem.steps[i][3]
        labels.append(ok)
    answer = int(answer_raw) if answer_raw is not None and answer_raw.isdigit() else None
    if answer is None:
        well_formed = False
    first_error = next((i for i, ok in enumerate(labels) if not ok), None)
    return Verdict(
        step_texts=steps,
        step_labels=labels,
        answer=answer,
        correct=answer is not None and answer == problem.answer,
        well_formed=well_formed,
        first_error=first_error,
    )


def parse_prompt(prompt: str, modulus: int = 100) -> Problem:
    """Rebuild a problem from its prompt text (used when importing data); raises ValueError."""
    body = prompt.strip()
    if body.endswith(PROMPT_END):
        body = body[: -len(PROMPT_END)]
    m = re.fullmatch(r"(\d+)((?:[+\-*/]\d+)+)", body)
    if m is None:
        raise ValueError(f"not an arithmetic-chain prompt: {prompt!r}")
    value = int(m.group(1)) % modulus
    start = value
    ops, steps = [], []
    for op, b in re.findall(r"([+\-*/])(\d+)", m.group(2)):
        r = apply_op(value, op, int(b), modulus)
        if r is None:
            raise ValueError(f"undefined operation {value}{op}{b} in {prompt!r}")
        ops.append((op, int(b)))
        steps.append((value, op, int(b), r))
        value = r
    return Problem(start, tuple(ops), tuple(steps))


@worlds.register("arithmetic")
class ArithmeticWorld(World):
    """Arithmetic chains as a World: split-disjoint problems, the checker, step spans, four flaws."""

    name = "arithmetic"
    Config = ArithmeticConfig
    flaw_kinds = ("carried", "slip", "operator", "operand")
    correction_pattern = r"\d{1,6}"

    def draw(self, rng: random.Random) -> Problem:
        return _draw_problem(rng, self.config)

    def check(self, problem: Problem, text: str) -> Verdict:
        return check_solution(problem, text, self.config.modulus)

    def steps(self, text: str) -> list[tuple[int, int]]:
        return step_spans(text)

    def tamper(self, problem: Problem, kind: str, rng: random.Random) -> Tampered:
        t = tamper(problem, kind, rng, self.config.modulus)
        return Tampered(t.text, t.flawed_step, kind)

    def locally_invalid_steps(self, problem: Problem, text: str) -> list[int]:
        return locally_invalid_steps(problem, text, self.config.modulus)

    def correction(self, problem: Problem, text: str, step: int) -> str:
        """The value the step should have had: the gold step's result; the answer for the answer line
        (any step past those written)."""
        if step >= len(split_solution(text)[0]) or step >= problem.n_steps:
            return str(problem.answer)
        return str(problem.steps[step][3])

    def scripted_flaw(self, problem: Problem) -> Tampered:
        """The first result one too high, carried forward: a rule a small model learns exactly."""
        steps, value, m = [], problem.start, self.config.modulus
        for k, (op, b) in enumerate(problem.ops):
            r = apply_op(value, op, b, m)
            r = (r + 1) % m if k == 0 else r
            steps.append(f"{value}{op}{b}={r}")
            value = r
        return Tampered(STEP_SEP.join(steps + [f"{ANSWER_MARK}{value}"]), 0, "carried")

    def scripted_misread(self, problem: Problem) -> Tampered:
        """The first operation's operand read one too high, the arithmetic right on it and carried
        forward: every step is valid arithmetic, the answer is wrong."""
        t = misread_operand(problem, 0, self.config.modulus)
        return Tampered(t.text, t.flawed_step, "operand")

    def parse_prompt(self, prompt: str) -> Problem:
        return parse_prompt(prompt, self.config.modulus)

    def chains(self) -> ChainRules:
        """Problems are number chains: a chain of ``fewest..most`` operations is a problem drawn with
        those step counts (the other knobs as configured), written as its prompt (``7+5-3=``)."""
        cfg = self.config

        def draw(rng: random.Random, fewest: int, most: int) -> tuple[int, tuple[tuple[str, int], ...]]:
            p = _draw_problem(rng, cfg.model_copy(update={"min_steps": fewest, "max_steps": most}))
            return p.start, p.ops

        return ChainRules(self.name, cfg.modulus, draw, lambda a, op, b: apply_op(a, op, b, cfg.modulus))
