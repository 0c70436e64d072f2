"""The validation table's columns: overseers from the one registry, built the one way the table builds them.

A column is any :class:`~autoalign.overseers.base.Overseer` registered in
``autoalign.registry.overseers`` and named in ``organisms.overseers``: the built-in PRM and ORM
(``overseers/step_verifiers.py``), the critic, the defection probe, the consistency check and the
action monitor (this package), or a plugin's, written against the plain contract. The table builds
each with an :class:`~autoalign.overseers.base.OverseerContext`:

- ``world``: the organisms' world; ``backbone``: the overseer backbone (the critic-trained LM the PRM
  and ORM start from), where one was trained; ``steps`` / ``batch_size``: ``verifier_steps`` and
  ``batch_size``; ``extras``: ``run`` (the run context), ``config`` (this section) and
  ``foundations`` (the shared models' results), for overseers of this package;
- an overseer of ``solutions`` that does not read the organism is built once per seed (seed
  ``derive("organisms", name)``), fitted on the labelled data the PRM and ORM train on (the base
  generator's samples, tampered and gold solutions, every step labelled by the checker) and saved
  with ``torch.save``, so every organism is judged by the same fitted overseer and a resumed run
  reuses it (it must pickle);
- an overseer that reads the organism (class attribute ``needs_subject = True``: the probe, the
  consistency check) is built for each organism with ``subject`` a :class:`~.organism.Subject` and is
  not fitted: it learns from the organism it reads, if at all;
- an overseer of ``transcripts`` judges tool-use organisms: the rule-based action monitor, and the
  learned monitor (``learned_monitor.py``), fitted on ``policy_corpus.py``'s generated transcripts,
  never an organism's (no overseer here sees an organism's output before judging it).

Its suspicion for an item is minus its solution score (higher score = more likely correct). An
overseer that judges another kind of text than the organism's reads n/a, with the reason.
"""

from __future__ import annotations

import io

import torch

from ...errors import UserError
from ...overseers.base import Overseer, OverseerContext
from ...registry import overseers
from ...runtime.context import outside_source_digest
from ...runtime.store import atomic_write_bytes
from .lab import load_model, world_of

KIND = {"solution": "solutions", "transcript": "transcripts"}  # an organism's kind -> what its items are


def column(name: str) -> type[Overseer]:
    cls = overseers.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Overseer)):
        raise UserError(f"organisms.overseers: {name!r} is registered as an overseer but is not an Overseer class")
    return cls


def needs_subject(cls: type) -> bool:
    """Whether the overseer reads or queries the overseen model (then it is built per organism)."""
    return bool(getattr(cls, "needs_subject", False))


def source_digest(cls: type) -> str:
    """A hash of a plugin overseer's module, so that its stages rerun when its code changes."""
    return outside_source_digest(cls.__module__)


def context(ctx, cfg, name: str, shared: dict, seed: int, subject=None) -> OverseerContext:
    backbone = load_model(ctx, shared["overseer"]["path"]) if "overseer" in shared else None
    return OverseerContext(
        world=world_of(cfg),
        seed=seed,
        backbone=backbone,
        subject=subject,
        steps=cfg.verifier_steps,
        batch_size=cfg.batch_size,
        description=f"organisms: training the {name}",
        extras={"run": ctx, "config": cfg, "foundations": shared},
    )


def save_fitted(ctx, name: str, overseer: Overseer) -> str:
    path = ctx.artifact(f"models/organism_overseer_{name}.pt")
    buffer = io.BytesIO()
    try:
        torch.save(overseer, buffer)
    except Exception as e:  # a lambda or an open handle in a plugin's overseer
        raise UserError(
            f"organisms.overseers: overseer {name!r} cannot be saved with torch.save "
            f"({type(e).__name__}: {e}); the table fits it once and reuses it"
        ) from None
    atomic_write_bytes(ctx.file(path), buffer.getvalue())
    return path


def load_fitted(ctx, path: str) -> Overseer:
    return torch.load(ctx.file(path), weights_only=False)
