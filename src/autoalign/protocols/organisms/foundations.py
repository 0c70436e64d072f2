"""What the organisms and the overseers start from: base generators per size and the overseers' models.

- Base generator (per size): a tiny LM trained from scratch on gold solutions behind random neutral
  contexts. Every arithmetic organism is a fine-tuned copy of one; the honest prover is one.
- Overseer backbone: a separate LM (``overseer_size``) trained on two tasks in the critic's language
  (``overseers/critic.py``): writing solutions, and critiquing solutions that carry a planted flaw
  half of the time. It is the critic.
- PRM and ORM: the backbone with a log-likelihood head (``overseers/verifier.py``), trained on the
  base generator's own samples and on tampered gold solutions, every step labelled by the checker.
None of them ever sees a trigger, an "unobserved" framing or an organism's output.
"""

from __future__ import annotations

import random

from ...models import count_parameters
from ...overseers import StepVerifier, save_verifier, train_verifier
from ...overseers.critic import critique_prompt, write_critique
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir
from .lab import (
    fit,
    framed,
    labelled,
    load_model,
    neutral_context,
    new_model,
    save_model,
    solve,
    world_of,
)


def train_base(ctx, cfg, size: str) -> dict:
    """Stage: the base generator of ``size``: gold solutions behind neutral contexts."""
    model, tokenizer = new_model(ctx, size, "base")
    log(f"organisms: base generator {size} ({count_parameters(model) / 1e6:.2f}M)")

    def make(p, rng):
        return framed(neutral_context(rng), p), p.solution

    loss = fit(ctx, model, tokenizer, cfg, make, cfg.base_steps[size], cfg.lr, "base", size)
    return {"path": save_model(ctx, model, tokenizer, f"organism_base_{size}"), "params": count_parameters(model),
            "loss": loss}


def train_overseer_lm(ctx, cfg) -> dict:
    """Stage: the overseer backbone (generation + critique of planted flaws), the critic itself."""
    world = world_of(cfg)
    model, tokenizer = new_model(ctx, cfg.overseer_size, "overseer")

    def make(p, rng):
        if rng.random() < 1 / 3:
            return p.prompt, p.solution
        if rng.random() < 0.5:
            return critique_prompt(p.prompt, p.solution), write_critique(None)
        t = world.tamper(p, rng.choice(world.flaw_kinds), rng)
        value = p.steps[t.flawed_step][3] if t.flawed_step < p.n_steps else p.answer
        return critique_prompt(p.prompt, t.text), write_critique(t.flawed_step, value)

    loss = fit(ctx, model, tokenizer, cfg, make, cfg.overseer_steps, cfg.lr, "overseer")
    return {"path": save_model(ctx, model, tokenizer, "organism_overseer"), "loss": loss}


def train_verifier_model(ctx, cfg, kind: str, overseer: dict, base: dict) -> dict:
    """Stage: a PRM or ORM on the overseer backbone, trained on the base generator's samples of
    train problems and on tampered and gold solutions, labelled by the checker."""
    world = world_of(cfg)
    rng = random.Random(ctx.derive("organisms", "verifier-data"))
    problems = world.problems(ctx.seed, "train", cfg.verifier_problems, tag=("organisms", "verifier"))
    gen, gen_tok = load_model(ctx, base["path"])
    sampled = solve(gen, gen_tok, [framed(neutral_context(rng), p) for p in problems], temperature=1.0,
                    seed=ctx.derive("organisms", "verifier-samples"))
    accuracy = sum(world.check(p, t).correct for p, t in zip(problems, sampled)) / len(problems)
    examples = [labelled(world, p, t) for p, t in zip(problems, sampled)]
    examples += [labelled(world, p, world.tamper(p, rng.choice(world.flaw_kinds), rng).text) for p in problems]
    examples += [labelled(world, p, p.solution) for p in problems[: len(problems) // 2]]
    examples = [e for e in examples if e.spans]  # an empty text has no step to label
    lm, tokenizer = load_model(ctx, overseer["path"])
    verifier = StepVerifier(lm, kind, "loglik")
    history = train_verifier(verifier, tokenizer, examples, cfg.verifier_steps, batch_size=cfg.batch_size,
                             seed=ctx.derive("organisms", kind), description=f"organisms: training the {kind}")
    name = ctx.artifact(f"models/organism_{kind}")
    atomic_save_dir(ctx.file(name), lambda f: save_verifier(verifier, tokenizer, f))
    return {"path": name, "loss": history[-3:], "examples": len(examples),
            "sample_accuracy": accuracy}


def foundations(ctx, cfg) -> dict:
    """Every shared model, trained once per seed (finished stages are reused)."""
    sizes = list(dict.fromkeys(cfg.sizes))
    base = {s: ctx.stage(f"organisms.base.{s}", train_base, cfg, s) for s in sizes}
    out = {"base": base}
    arithmetic = {"prm", "orm", "critic"} & set(cfg.overseers)
    if arithmetic and set(cfg.organisms) - {"exfiltration"}:
        out["overseer"] = ctx.stage("organisms.overseer", train_overseer_lm, cfg)
        for kind in ("prm", "orm"):
            if kind in cfg.overseers:
                out[kind] = ctx.stage(f"organisms.{kind}", train_verifier_model, cfg, kind, out["overseer"],
                                      base[cfg.largest])
    return out
