"""The one overseer contract: ``score(problems, texts)`` -> per-solution and per-step scores.

Everything that judges a model's work (an ORM, a PRM, a critic, a probe, an action monitor, a
plugin's heuristic) is an :class:`Overseer`, registered by name in ``autoalign.registry.overseers``
and built by :func:`build_overseer` from an :class:`OverseerContext`: the world its texts come from,
a seed, an optional white-box backbone it may fine-tune (a copy is its own), an optional subject (the
model being overseen, for overseers that query or read it) and a training budget. Protocols name
overseers in their configs and never branch on which one they got:

* ``fit(problems, texts, verdicts)`` (optional): learn from labelled solutions (the checker's
  verdicts, which carry per-step labels and final correctness). Overseers that need no training
  inherit the no-op.
* ``score(problems, texts)``: one :class:`OverseerScores` per text; **higher means more likely
  correct**. ``solution`` is a log-probability-like number (any monotone score works for ranking,
  AUROC and best-of-N); ``steps`` one number per step span of ``world.steps(text)`` where the
  overseer judges steps (empty otherwise).
* ``judges``: what the texts are (``"solutions"`` of a world's problems, or ``"transcripts"`` of
  agent episodes); a protocol refuses an overseer that judges something else, in one line.

Every overseer is also a TRL reward function through :class:`OverseerReward`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from ..errors import UserError


@dataclass(frozen=True)
class OverseerScores:
    """One text's scores: ``solution`` (higher = more likely correct) and one per step span."""

    solution: float
    steps: tuple[float, ...] = ()


@dataclass
class OverseerContext:
    """What a protocol hands an overseer when it builds one."""

    world: Any = None  # the World its texts come from (step spans, never its checker's labels at score time)
    seed: int = 0
    backbone: Any = None  # (module, tokenizer) of a white-box model the overseer may fine-tune, or None
    subject: Any = None  # the model being overseen, for overseers that query or read it
    steps: int = 150  # training budget, optimizer steps
    batch_size: int = 64
    lr: float = 3e-4
    head_lr: float = 1e-2
    description: str = ""  # shown on progress bars
    extras: dict = field(default_factory=dict)  # protocol-specific facts an overseer may use


class Overseer(ABC):
    """Scores solutions; optionally learns from labelled ones first."""

    judges: ClassVar[str] = "solutions"
    needs_backbone: ClassVar[bool] = False

    def __init__(self, ctx: OverseerContext):
        if self.needs_backbone and ctx.backbone is None:
            raise UserError(f"overseer {type(self).__name__} needs a white-box backbone, and none was given")
        self.ctx = ctx

    def fit(self, problems: Sequence[Any], texts: Sequence[str], verdicts: Sequence[Any]) -> "Overseer":
        """Learn from solutions and the checker's verdicts; by default nothing to learn."""
        return self

    @abstractmethod
    def score(self, problems: Sequence[Any], texts: Sequence[str]) -> list[OverseerScores]:
        """One ``OverseerScores`` per text, higher = more likely correct."""


def build_overseer(name: str, ctx: OverseerContext, judges: str = "solutions", where: str = "overseers") -> Overseer:
    """The registered overseer ``name`` built for ``ctx``; one clear line if it cannot judge ``judges``."""
    from ..registry import overseers

    cls = overseers.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Overseer)):
        raise UserError(f"{where}: {name!r} is registered as an overseer but is not an Overseer class")
    if cls.judges != judges:
        raise UserError(f"{where}: overseer {name!r} judges {cls.judges}, not {judges}")
    return cls(ctx)


def check_overseer_names(names: Sequence[str], judges: str = "solutions") -> None:
    """For config validators: raise ValueError naming the first unknown or unsuitable overseer."""
    from ..registry import overseers

    for name in names:
        try:
            cls = overseers.get(name)
        except UserError as e:
            raise ValueError(str(e)) from None
        if not (isinstance(cls, type) and issubclass(cls, Overseer)):
            raise ValueError(f"{name!r} is not an Overseer class")
        if cls.judges != judges:
            raise ValueError(f"overseer {name!r} judges {cls.judges}, not {judges}")


def completion_text(completion) -> str:
    """A completion as TRL passes it (a string, or chat messages) as plain text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


class OverseerReward:
    """Any overseer as a TRL reward function ``f(prompts, completions, **kw) -> list[float]``.

    The reward is ``exp(solution score)`` when the overseer's scores are log-probabilities
    (``probability=True``, the default: a reward in [0, 1]), else the raw score. Problems are found
    from the prompt: a ``problems`` mapping of prompt -> problem, else ``world.parse_prompt``."""

    def __init__(
        self,
        overseer: Overseer,
        problems: dict[str, Any] | None = None,
        probability: bool = True,
        name: str | None = None,
    ):
        self.overseer, self.problems, self.probability = overseer, dict(problems or {}), probability
        self.__name__ = name or f"{type(overseer).__name__.lower()}_reward"  # TRL logs rewards under this

    def _problem(self, prompt: str):
        if prompt in self.problems:
            return self.problems[prompt]
        world = self.overseer.ctx.world
        if world is not None and hasattr(world, "parse_prompt"):
            return world.parse_prompt(prompt)
        raise UserError(f"reward: no problem known for prompt {prompt[:40]!r}")

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        prompt_texts = [completion_text(p) for p in prompts]
        texts = [completion_text(c) for c in completions]
        scores = self.overseer.score([self._problem(p) for p in prompt_texts], texts)
        if not self.probability:
            return [s.solution for s in scores]
        return [math.exp(min(s.solution, 0.0)) if math.isfinite(s.solution) else 0.0 for s in scores]
