"""What RRM judges, behind one interface: an outcome is a piece of work and a claimed result.

A *piece* is a stretch of a problem's work of some number of steps, started from a stated point; a
*claim* is what the stretch is said to reach. The protocol (levels, the user, assisted evaluation,
the reward models) is written against :class:`Outcomes` only, so it runs on any registered world:

* ``chains`` (``chains.py``): for worlds whose problems are number chains (``World.chains``:
  arithmetic, countdown solutions written left to right): a chain from any value and its claimed
  value, ``7+5-3-2+8=15``.
* ``solutions`` (``stretches.py``): for any world with text solutions and planted flaws: a stretch
  of a problem's gold solution, entered at a step stated by a helper, and the claimed last step.

Half the claims are right, half wrong (``claims``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

END = ";"  # ends a claim, so the claim ``1`` is not read as the start of ``19``


@dataclass(frozen=True)
class Outcome:
    """An outcome as a reward model reads it: ``prompt`` (the piece), ``body`` (the claim and END)."""

    prompt: str
    body: str


class Outcomes(ABC):
    """Pieces of one world's work, the claims about them and how the simulated user checks them."""

    kind: ClassVar[str]
    unit: ClassVar[str]  # what a piece's length counts, in messages and the report

    @abstractmethod
    def pieces(
        self,
        lo: int,
        hi: int,
        seed: int,
        split: str,
        n: int,
        tag: Any = None,
        distinct: bool = False,
        judged: bool = True,
    ) -> list:
        """``n`` pieces of ``lo..hi`` steps from ``split``, the same for the same arguments; ``judged``:
        only pieces a wrong claim can be made about (pretraining, which reads right claims only, needs
        not ask)."""

    @abstractmethod
    def length(self, piece) -> int:
        """Steps in the piece."""

    @abstractmethod
    def right_claim(self, piece) -> Any:
        """What the piece reaches."""

    @abstractmethod
    def wrong_claim(self, piece, rng: random.Random) -> Any:
        """A claim the piece does not reach."""

    @abstractmethod
    def is_right(self, piece, claim) -> bool:
        """The user's own check of the claim (exact; the user only runs it on short pieces)."""

    @abstractmethod
    def options(self, piece) -> list:
        """Every claim a helper may state for the piece (the right one among them)."""

    @abstractmethod
    def head(self, piece, m: int):
        """The piece's first ``m`` steps, from the same start."""

    @abstractmethod
    def tail(self, piece, m: int, start):
        """The piece after its first ``m`` steps, started from ``start`` (a claim about the head)."""

    @abstractmethod
    def item(self, piece, claim) -> Outcome:
        """The outcome (piece, claim) as a reward model reads it."""


def claims(outcomes: Outcomes, pieces: list, rng: random.Random) -> list[tuple[Any, Any, bool]]:
    """(piece, claim, claim is right): half right, half wrong."""
    out = []
    for p in pieces:
        claim = outcomes.right_claim(p) if rng.random() < 0.5 else outcomes.wrong_claim(p, rng)
        out.append((p, claim, outcomes.is_right(p, claim)))
    return out
