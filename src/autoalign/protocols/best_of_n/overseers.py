"""Registered overseers beside the built-in verifiers: any ``Overseer`` named in ``best_of_n.overseers``.

The built-in PRM, ORM and their ablations are trained by best-of-N's own stages (each cached, labels
crossed with aggregations). Any other overseer, a built-in one or a plugin's, gets the same chance
through the one overseer contract: it is built on a copy of the verifiers' backbone, fit on the
same checked samples of the overseer split (problems, texts, the checker's verdicts) with the same
training budget, and scores the same distinct test solutions; its solution scores then enter the
best-of-N curves and AUROC tables like every other scorer's.
"""

from __future__ import annotations

import math

from ...errors import UserError
from ...overseers.base import OverseerContext, build_overseer
from ...pipeline.generator import load_generator, read_samples
from ...runtime.store import atomic_write_json
from ...worlds.reference import WorldRef
from .config import VerifierConfig
from .scoring import unique_solutions


def _problems_by_prompt(ctx, world, splits: dict[str, int]) -> dict:
    """The problems ``sample_and_check`` drew (the same seed, split and count), by prompt."""
    return {p.prompt: p for split, n in splits.items() for p in world.problems(ctx.seed, split, n)}


def fit_and_score_overseer(
    ctx,
    world_ref: WorldRef,
    base: dict,
    train_path: str,
    test_path: str,
    name: str,
    v: VerifierConfig,
    train_problems: int,
    test_problems: int,
) -> dict:
    """Stage: fit the registered overseer ``name`` on the checked training samples, score every
    distinct test solution, and save the solution scores (None where a score is not finite)."""
    w, world = world_ref.name, world_ref.make()
    problems = _problems_by_prompt(ctx, world, {"overseer": train_problems, "test": test_problems})
    octx = OverseerContext(
        world=world,
        seed=ctx.derive(w, name),
        backbone=load_generator(ctx, base),
        steps=v.steps,
        batch_size=v.batch_size,
        lr=v.lr,
        head_lr=v.head_lr,
        description=f"training {w} {name}",
    )
    overseer = build_overseer(name, octx, "solutions", where="best_of_n.overseers")
    rows = read_samples(ctx, train_path)
    fit_problems = [problems[r["prompt"]] for r in rows]
    overseer.fit(
        fit_problems, [r["text"] for r in rows], [world.check(p, r["text"]) for p, r in zip(fit_problems, rows)]
    )
    pairs, _ = unique_solutions(read_samples(ctx, test_path))
    scores = overseer.score([problems[p] for p, _ in pairs], [t for _, t in pairs])
    if len(scores) != len(pairs):
        raise UserError(f"overseer {name!r} returned {len(scores)} scores for {len(pairs)} solutions")
    values = [float(s.solution) if math.isfinite(s.solution) else None for s in scores]
    path = ctx.artifact(f"samples/{w}_test_scores_{name}") + ".json"
    atomic_write_json(ctx.file(path), values)
    return {"scores": path}
