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
- ``tamper(problem, solution, kind, rng)``, optional: a flawed copy with the flawed step recorded.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from ..errors import UserError
from ..records import Verdict
from ..seeding import py_rng, unit_hash

# Shares of the problem space. "train" teaches policies; "overseer" teaches verifiers, judges and
# critics; "val" is for early stopping; "test" is only ever measured.
SPLITS: dict[str, float] = {"train": 0.6, "overseer": 0.2, "val": 0.05, "test": 0.15}


@dataclass(frozen=True)
class Tampered:
    text: str
    flawed_step: int  # index of the step the flaw is in (= the checker's first_error)
    kind: str


class World(ABC):
    """A task generator with machine-checkable ground truth. Subclasses set ``name`` and ``Config``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    flaw_kinds: ClassVar[tuple[str, ...]] = ()

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

    # -- what every world gets -----------------------------------------------------------------
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
