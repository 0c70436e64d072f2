"""The overseer backbone: the generator fine-tuned in the critic's language, as a keyed stage.

Saunders et al. (2022) train one model to generate, discriminate and critique; the ``critic`` overseer
reads log p("no flaw") under such a model (``overseers/critic.py`` is the language). This stage makes
one from a trained generator, so a protocol that compares overseers (the critic beside a PRM and an
ORM) can give them all the same starting weights: a third of the items are the gold solution to
write, a third a gold solution to call sound, a third a planted flaw (``World.tamper``) to name with
its correction. Problems are fresh draws of the world's train split, as for the generator.
"""

from __future__ import annotations

from pydantic import Field

from ..models import TrainConfig, count_parameters, train_lm
from ..overseers.critic import critique_prompt, write_critique
from ..protocol import Section
from ..runtime.progress import log
from ..runtime.store import atomic_save_dir
from ..worlds.reference import WorldRef
from .generator import bucketed_batches, load_generator


class CriticTraining(Section):
    """How the generator is fine-tuned into the critic (the overseers' backbone)."""

    steps: int = Field(300, ge=1, description="Optimizer steps on the mixed generate/critique items.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)


def critic_item(world):
    """``make(problem, rng) -> (prompt, completion)``: a third each a generation, a sound critique and a
    planted flaw named with its correction (the organisms' overseer backbone draws the same way)."""

    def make(p, rng) -> tuple[str, str]:
        if rng.random() < 1 / 3:
            return p.prompt, p.solution
        if rng.random() < 0.5:
            return critique_prompt(p.prompt, p.solution), write_critique(None)
        t = world.tamper(p, rng.choice(world.flaw_kinds), rng)
        return critique_prompt(p.prompt, t.text), write_critique(
            t.flawed_step, world.correction(p, t.text, t.flawed_step)
        )

    return make


def train_critic(ctx, world_ref: WorldRef, generator: dict, c: CriticTraining) -> dict:
    """Stage: the generator's copy trained in the critic's language, saved under ``models/``; its
    result reads like ``train_generator``'s, so ``load_generator`` opens it."""
    world = world_ref.make()
    model, tokenizer = load_generator(ctx, generator, "the critic's backbone")
    log(f"training the critic from the generator ({count_parameters(model) / 1e6:.2f}M parameters)")
    batches = bucketed_batches(world, ctx.derive("critic"), c.batch_size, make=critic_item(world), tag="critic")
    cfg = TrainConfig(steps=c.steps, lr=c.lr, warmup_steps=min(50, c.steps // 5), checkpoint_every=10**9)
    state = train_lm(model, tokenizer, batches, cfg)
    name = ctx.artifact(f"models/critic_{world.name}")
    atomic_save_dir(ctx.file(name), lambda f: (model.save_pretrained(f), tokenizer.save_pretrained(f)))
    losses = [h["loss"] for h in state["history"] if "loss" in h]
    return {"path": name, "trained": True, "steps": state["step"], "final_loss": losses[-1] if losses else None}
