"""Phase 2 of GDC training: the discriminator and critic also learn from the model's own samples.

Why: after phase 1 the discriminator and critic have seen only planted flaws (a gold solution with
one step tampered), so measuring them on the model's own samples tests transfer from planted to
real errors, not what the model can tell about its own work. Saunders et al. train critiques on
model-written answers with human labels; here the checker is the labeller. The phase-1 model
samples K solutions per training problem (temperature 1), the checker labels each sound or flawed
with its first wrong step, and training goes on with the same task mix, except that a share of
the discrimination and critique items is drawn from these labelled samples (sound and flawed
equally often, so the verdict's base rate is 50% as on planted items). Test problems are never
sampled: they come from the test split, the samples from the training split.
"""

from __future__ import annotations

import random
import re

import numpy as np

from ...models import TrainConfig, count_parameters, train_lm
from ...models.sampling import sample_solutions
from ...overseers.critic import FLAWED, SOUND, critique_prompt, discrimination_prompt
from ...pipeline.generator import bucketed_batches
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir, read_jsonl, write_jsonl
from .critiques import right_critique
from .own_samples import label_samples


def own_items(rows: list[dict], world, problems) -> dict[str, list[tuple[str, str]]]:
    """The labelled own samples as ready training items, split by label: ``{"sound": [...],
    "flawed": [...]}``, each a list of (discrimination pair, critique pair)."""
    out: dict[str, list] = {"sound": [], "flawed": []}
    for r in rows:
        p = problems[r["problem"]]
        verdict = SOUND if r["sound"] else FLAWED
        target = right_critique(world, p, r["text"], None if r["sound"] else r["flawed_step"])
        out["sound" if r["sound"] else "flawed"].append(
            ((discrimination_prompt(p.prompt, r["text"]), verdict), (critique_prompt(p.prompt, r["text"]), target))
        )
    return out


def mixed_pair(g, item, items: dict[str, list], control: bool = False):
    """``make(problem, rng)`` for phase 2: the phase-1 task mix (``item(task, problem, rng)`` makes a
    phase-1 pair), with a share ``g.own_share`` of the discrimination and critique items taken from
    the labelled own samples (sound and flawed equally often).

    ``control``: phase 2's control arm (``control.py``). It draws from ``rng`` exactly as phase 2
    does, so both arms see the same generation and planted items in the same places, and where
    phase 2 shows an own sample it shows a planted item made from a side stream instead (seeded by
    the main stream's state, which it does not advance: still a pure function of the position)."""
    weights = np.array([g.mix.generation, g.mix.discrimination, g.mix.critique], dtype=float)
    cum = np.cumsum(weights / weights.sum())
    usable = bool(items["sound"]) and bool(items["flawed"])

    def make(p, rng) -> tuple[str, str]:
        task = int(np.searchsorted(cum, rng.random(), side="right"))
        if task == 0 or not usable or rng.random() >= g.own_share:
            return item(task, p, rng)  # generation, or a planted-flaw item as in phase 1
        pool = items["flawed" if rng.random() < 0.5 else "sound"]
        disc, crit = pool[rng.randrange(len(pool))]
        if control:
            return item(task, p, random.Random(hash(rng.getstate()[1])))
        return disc if task == 1 else crit

    return make


def sample_own_training_items(ctx, g, world, model, tokenizer, saved) -> tuple[dict, dict]:
    """Sample and label K own solutions per training problem; (items by label, summary). A resumed
    stage reads the samples it saved (``saved``) rather than drawing them again."""
    problems = world.problems(ctx.seed, "train", g.own_train_problems, tag="gdc-own", distinct=False)
    k = max(1, g.own_samples)
    if saved.exists():
        rows = read_jsonl(saved)
    else:
        texts = sample_solutions(
            model,
            tokenizer,
            [p.prompt for p in problems for _ in range(k)],
            temperature=1.0,
            max_new_tokens=g.max_new_tokens,
            seed=ctx.derive("gdc", "own-train"),
            description="sampling own training solutions",
        )
        rows = label_samples(world, problems, texts, k)
        write_jsonl(saved, rows)
    items = own_items(rows, world, problems)
    # how often phase 2 shows each own sample, on average (a pool seen many times is memorised, not learned)
    mix = g.mix.discrimination + g.mix.critique
    per_label = g.own_train_steps * g.batch_size * mix / (mix + g.mix.generation) * g.own_share / 2
    return items, {
        "samples": len(rows),
        "sound": len(items["sound"]),
        "flawed": len(items["flawed"]),
        "share_sound": len(items["sound"]) / max(1, len(rows)),
        "expected_repeats": {lab: round(per_label / len(v), 2) if v else None for lab, v in items.items()},
    }


def train_and_save(
    ctx, g, world, model, tokenizer, name: str, make, tag: str, steps: int, lr: float, warmup: int, curve_point
) -> dict:
    """Train a GDC model on pairs ``make(problem, rng)`` (checkpointed, resumable, with the learning
    curve when ``g.curve_every``), then save it to the run folder ``name``; ``train_lm``'s state."""
    ckpt = ctx.file(f"{name}.ckpt.pt")
    state = train_lm(
        model,
        tokenizer,
        bucketed_batches(world, ctx.seed, g.batch_size, make, tag=tag, buckets=1),
        TrainConfig(
            steps=steps,
            lr=lr,
            warmup_steps=warmup,
            checkpoint_every=g.checkpoint_every,
            eval_every=max(1, g.curve_every),
            loss_per=g.loss_per,
        ),
        checkpoint=ckpt,
        evaluate=curve_point(ctx, g, model, tokenizer) if g.curve_every else None,
        on_event=lambda kind, **f: ctx.event(kind, **f),
    )

    def save(folder):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    atomic_save_dir(ctx.file(name), save)
    ckpt.unlink(missing_ok=True)
    return state


def train_on_own_samples(ctx, size: str, first: dict, g, world, item, load_trained, curve_point) -> dict:
    """Stage body: load the phase-1 model, label its own samples, train ``own_train_steps`` more."""
    model, tokenizer = load_trained(ctx, first)
    name = ctx.artifact("models/gdc_own_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", size))
    items, made = sample_own_training_items(ctx, g, world, model, tokenizer, ctx.file(name + ".samples.jsonl"))
    log(
        f"{size}: {made['samples']} own training samples, {made['share_sound']:.0%} sound, each seen about "
        f"{made['expected_repeats']} times in phase 2 ({g.own_train_steps} steps)"
    )
    lr = first["lr"] * g.own_train_lr_scale
    state = train_and_save(
        ctx,
        g,
        world,
        model,
        tokenizer,
        name,
        mixed_pair(g, item, items),
        "gdc-own",
        g.own_train_steps,
        lr,
        min(50, g.own_train_steps),
        curve_point,
    )
    offset = made["from_step"] = g.train_steps
    curve = first.get("curve", []) + [
        {**h, "step": h["step"] + offset, "phase": 2} for h in state["history"] if "G" in h
    ]
    history = first.get("history", []) + [
        {**h, "step": h["step"] + offset, "phase": 2} for h in state["history"] if "G" not in h
    ]
    return {
        **first,
        "path": name,
        "params": count_parameters(model),
        "curve": curve,
        "history": history,
        "own_training": made,
        "train_seconds": round(first.get("train_seconds", 0) + state["seconds"], 1),
    }
