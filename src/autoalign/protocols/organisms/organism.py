"""What an organism is to the experiment, and how a user adds one.

An organism is registered in ``autoalign.registry.organisms`` (like a world) with a function
``plant(ctx, cfg, foundations) -> behaviour`` that trains it (in stages) and lets it act. The
behaviour is plain JSON that every overseer can judge:

- ``kind``: ``"solution"`` (arithmetic solutions: PRM, ORM, critic and probe apply) or
  ``"transcript"`` (tool-use episodes: the action monitor applies);
- ``items``: what it did, each ``{"problem": index into the test problems, "prompt": what the
  organism saw, "text": what it wrote, "misaligned": the planted ground truth}``;
- ``scores``: suspicion scores per item from overseers only the organism's world can run (the
  consistency check, the action monitor), by overseer name;
- ``models``: per item, the white-box model that produced it (for the probe), as a list of paths
  (``model_of`` indexes it), or none;
- ``details``: the organism's own measurements (persistence, rounds, attempts), reported as they are.

A plugin adds one with::

    from autoalign.protocols.organisms import organism

    @organism("my_organism", kind="solution")
    def plant(ctx, cfg, foundations) -> dict: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...registry import organisms


@dataclass(frozen=True)
class Organism:
    name: str
    kind: str
    plant: Callable[..., dict]


def organism(name: str, kind: str) -> Callable:
    """Decorator: register ``plant(ctx, cfg, foundations) -> behaviour`` as organism ``name``."""
    if kind not in ("solution", "transcript"):
        raise ValueError(f"organism kind must be solution or transcript, not {kind!r}")

    def decorator(plant: Callable) -> Callable:
        organisms.register(name, Organism(name, kind, plant))
        return plant

    return decorator


def behaviour(kind: str, items: list[dict], scores: dict | None = None, models: list[str] | None = None,
              model_of: list[int] | None = None, details: dict | None = None) -> dict:
    return {"kind": kind, "items": items, "scores": scores or {}, "models": models or [],
            "model_of": model_of or [], "details": details or {}}
