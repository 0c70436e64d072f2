"""What an organism is to the experiment, and how a user adds one.

An organism is registered in ``autoalign.registry.organisms`` (like a world) with a function
``plant(ctx, cfg, foundations) -> behaviour`` that trains it (in stages) and lets it act. The
behaviour is plain JSON that every overseer can judge:

- ``kind``: ``"solution"`` (solutions of the organisms' world: overseers that judge ``solutions``
  apply, e.g. the PRM, ORM, critic and probe) or ``"transcript"`` (tool-use episodes: overseers that
  judge ``transcripts`` apply, e.g. the action monitor);
- ``items``: what it did, each ``{"problem": index into the test problems, "prompt": what the
  organism saw, "text": what it wrote, "misaligned": the planted ground truth}``;
- ``scores``: suspicion scores per item, by overseer name, for overseers the organism ran itself
  because only it knows how to query its own models (the consistency check re-asks whichever model
  wrote each item); the table uses them in place of its own call;
- ``models``: the white-box models overseers may read (the probe), as a list of paths, and
  ``model_of``: per item, the index of its model; or none;
- ``details``: the organism's own measurements (persistence, rounds, attempts), reported as they are.

A plugin adds one with::

    from autoalign.protocols.organisms import organism

    @organism("my_organism", kind="solution")
    def plant(ctx, cfg, foundations) -> dict: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...registry import organisms


@dataclass(frozen=True)
class Organism:
    name: str
    kind: str
    plant: Callable[..., dict]


@dataclass
class Subject:
    """The overseen organism, as overseers that read or query it see it (``OverseerContext.subject``):
    its white-box models and, per item of the texts scored, which model to read and what it was shown."""

    models: list[Any]  # (module, tokenizer) of each model
    model_of: list[int]  # per item, the index of its model in ``models``
    prompts: list[str]  # per item, the prompt the organism saw (its context line included)


def organism(name: str, kind: str) -> Callable:
    """Decorator: register ``plant(ctx, cfg, foundations) -> behaviour`` as organism ``name``."""
    if kind not in ("solution", "transcript"):
        raise ValueError(f"organism kind must be solution or transcript, not {kind!r}")

    def decorator(plant: Callable) -> Callable:
        organisms.register(name, Organism(name, kind, plant))
        return plant

    return decorator


def behaviour(
    kind: str,
    items: list[dict],
    scores: dict | None = None,
    models: list[str] | None = None,
    model_of: list[int] | None = None,
    details: dict | None = None,
) -> dict:
    return {
        "kind": kind,
        "items": items,
        "scores": scores or {},
        "models": models or [],
        "model_of": model_of or [],
        "details": details or {},
    }
