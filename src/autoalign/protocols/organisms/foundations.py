"""What the organisms and the overseers start from: base generators per size and the overseers' models.

- Base generator (per size): a tiny LM trained from scratch on gold solutions behind random neutral
  contexts. Every solution-writing organism is a fine-tuned copy of one; the honest prover is one.
- Overseer backbone: a separate LM (``overseer_size``) trained on two tasks in the critic's language
  (``overseers/critic.py``): writing solutions, and critiquing solutions that carry a planted flaw
  half of the time. It is the critic, and what the PRM and ORM start from. Trained when a column
  that is fitted once needs a backbone.
- The labelled data: the base generator's own samples of train problems, tampered gold solutions
  and gold solutions, every step labelled by the world's checker.
- Every column fitted once per seed (``columns.py``): the PRM and ORM (the backbone with a
  log-likelihood head, ``overseers/step_verifiers.py``) and any plugin's overseer, fitted on that data.
None of them ever sees a trigger, an "unobserved" framing or an organism's output.
"""

from __future__ import annotations

import random

from ...models import count_parameters
from ...pipeline.critic import critic_item
from ...registry import organisms
from ...runtime.progress import log
from .columns import KIND, column, context, needs_subject, save_fitted, source_digest
from .lab import fit, framed, load_model, neutral_context, new_model, save_model, solve, world_of


def train_base(ctx, cfg, size: str) -> dict:
    """Stage: the base generator of ``size``: gold solutions behind neutral contexts."""
    model, tokenizer = new_model(ctx, size, "base")
    log(f"organisms: base generator {size} ({count_parameters(model) / 1e6:.2f}M)")

    def make(p, rng):
        return framed(neutral_context(rng), p), p.solution

    loss = fit(ctx, model, tokenizer, cfg, make, cfg.base_steps[size], cfg.lr, "base", size)
    return {
        "path": save_model(ctx, model, tokenizer, f"organism_base_{size}"),
        "params": count_parameters(model),
        "loss": loss,
    }


def train_overseer_lm(ctx, cfg) -> dict:
    """Stage: the overseer backbone (generation + critique of planted flaws), the critic itself."""
    world = world_of(cfg)
    model, tokenizer = new_model(ctx, cfg.overseer_size, "overseer")

    make = critic_item(world)

    loss = fit(ctx, model, tokenizer, cfg, make, cfg.overseer_steps, cfg.lr, "overseer")
    return {"path": save_model(ctx, model, tokenizer, "organism_overseer"), "loss": loss}


def _training_problems(ctx, cfg) -> list:
    return world_of(cfg).problems(ctx.seed, "train", cfg.verifier_problems, tag=("organisms", "verifier"))


def labelled_data(ctx, cfg, base: dict) -> dict:
    """Stage: the texts every fitted column learns from: the base generator's samples of train
    problems, a tampered solution of each, and the gold solutions of half of them."""
    world = world_of(cfg)
    rng = random.Random(ctx.derive("organisms", "verifier-data"))
    problems = _training_problems(ctx, cfg)
    gen, gen_tok = load_model(ctx, base["path"])
    sampled = solve(
        gen,
        gen_tok,
        [framed(neutral_context(rng), p) for p in problems],
        temperature=1.0,
        seed=ctx.derive("organisms", "verifier-samples"),
    )
    accuracy = sum(world.check(p, t).correct for p, t in zip(problems, sampled)) / len(problems)
    tampered = [world.tamper(p, rng.choice(world.flaw_kinds), rng).text for p in problems]
    half = len(problems) // 2
    return {
        "texts": sampled + tampered + [p.solution for p in problems[:half]],
        "problem_of": list(range(len(problems))) * 2 + list(range(half)),
        "sample_accuracy": accuracy,
    }


def fit_column(ctx, cfg, name: str, source: str, shared: dict) -> dict:
    """Stage: overseer ``name`` built for the table and fitted once on the labelled data (``source``:
    its module's hash when it is a plugin's, so that a changed plugin refits)."""
    cls = column(name)
    overseer = cls(context(ctx, cfg, name, shared, ctx.derive("organisms", name)))
    if cls.judges == "solutions":
        world, problems = world_of(cfg), _training_problems(ctx, cfg)
        data = shared["data"]
        mine = [problems[i] for i in data["problem_of"]]
        overseer.fit(mine, data["texts"], [world.check(p, t) for p, t in zip(mine, data["texts"])])
    return {"path": save_fitted(ctx, name, overseer)}


def fitted_once(cfg) -> list[str]:
    """The columns fitted once per seed: those that do not read an organism and judge what some
    planted organism writes."""
    kinds = {KIND[organisms.get(n).kind] for n in cfg.organisms}
    return [o for o in cfg.overseers if not needs_subject(column(o)) and column(o).judges in kinds]


def foundations(ctx, cfg) -> dict:
    """Every shared model, trained once per seed (finished stages are reused)."""
    sizes = list(dict.fromkeys(cfg.sizes))
    base = {s: ctx.stage(f"organisms.base.{s}", train_base, cfg, s) for s in sizes}
    out: dict = {"base": base, "fitted": {}}
    once = fitted_once(cfg)
    on_solutions = [o for o in once if column(o).judges == "solutions"]
    if any(column(o).needs_backbone for o in on_solutions):
        out["overseer"] = ctx.stage("organisms.overseer", train_overseer_lm, cfg)
    if on_solutions:
        out["data"] = ctx.stage("organisms.labelled_data", labelled_data, cfg, base[cfg.largest])
    shared = {k: v for k, v in out.items() if k != "fitted"}
    for o in once:
        out["fitted"][o] = ctx.stage(f"organisms.fit.{o}", fit_column, cfg, o, source_digest(column(o)), shared)
    return out
