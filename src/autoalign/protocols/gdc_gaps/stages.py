"""GDC's stages: the three tasks' items, training each size, evaluating G, D and C on the same
problems, the critic's sweeps and the own-sample measurements. ``__init__`` composes them; the
control arm (``control.py``) reuses them.
"""

from __future__ import annotations

import re

import numpy as np

from ...errors import UserError
from ...measures import bootstrap_ci
from ...models import build_char_tokenizer, build_model, count_parameters
from ...models.device import place
from ...models.providers import open_model, size_or_address
from ...models.sampling import sample_solutions
from ...models.scoring import completion_logprobs
from ...overseers.critic import FLAWED, SOUND, critique_prompt, discrimination_prompt
from ...runtime.progress import log
from ...runtime.store import read_jsonl, write_jsonl
from ...seeding import py_rng
from ...worlds import World
from .config import GdcConfig
from .critiques import detects, read_critique, right_critique
from .critiques import grade as grade_item
from .own_samples import evaluate_own_samples
from .own_training import train_and_save, train_on_own_samples
from .rater import measured_assistance


def world_of(g: GdcConfig) -> World:
    return g.world.make()


def flaw_kinds(g: GdcConfig, world: World) -> list[str]:
    return list(g.flaws or world.flaw_kinds)


def test_problems(ctx, g: GdcConfig) -> list:
    return world_of(g).problems(ctx.seed, "test", g.test_problems)


def task_item(g: GdcConfig, world: World):
    """``item(task, problem, rng)``: one training pair of a given task (0 generate, 1 discriminate,
    2 critique); half of the discrimination and critique items carry a planted flaw."""
    kinds = flaw_kinds(g, world)

    def item(task: int, p, rng) -> tuple[str, str]:
        if task == 0:
            return p.prompt, p.solution
        flawed = rng.random() < 0.5
        text, step_i = p.solution, None
        if flawed:
            t = world.tamper(p, rng.choice(kinds), rng)
            text, step_i = t.text, t.flawed_step
        if task == 1:
            return discrimination_prompt(p.prompt, text), FLAWED if flawed else SOUND
        return critique_prompt(p.prompt, text), right_critique(world, p, text, step_i)

    return item


def task_pair(g: GdcConfig, world: World):
    """``make(problem, rng)``: one training pair, the task (generate, discriminate, critique) drawn
    by the mix; half of the discrimination and critique items carry a planted flaw."""
    weights = np.array([g.mix.generation, g.mix.discrimination, g.mix.critique], dtype=float)
    cum = np.cumsum(weights / weights.sum())
    item = task_item(g, world)

    def make(p, rng) -> tuple[str, str]:
        return item(int(np.searchsorted(cum, rng.random(), side="right")), p, rng)

    return make


def initial_model(ctx, size: str, g: GdcConfig):
    """(model, tokenizer, peak lr) for one entry of ``sizes``: a fresh lab model of that size, or a
    local checkpoint (its own tokenizer) to fine-tune."""
    address = size_or_address(size, "gdc.sizes")
    if address.lab_size is not None:
        tokenizer = build_char_tokenizer()
        model = build_model(g.arch, address.lab_size, tokenizer, seed=ctx.derive("gdc", size))
        return place(model), tokenizer, g.lr[address.lab_size]
    local = open_model(address, "gdc.sizes").white_box("GDC (it fine-tunes each model on three tasks)")
    return local.module, local.tokenizer, g.checkpoint_lr


def train_size(ctx, size: str, g: GdcConfig, digest: str = "") -> dict:
    """Stage: one model trained on the three tasks at once (from scratch, or from a checkpoint)."""
    world = world_of(g)
    model, tokenizer, lr = initial_model(ctx, size, g)
    log(f"training a {size} generator-discriminator-critic ({count_parameters(model) / 1e6:.2f}M parameters)")
    name = ctx.artifact("models/gdc_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", size))
    state = train_and_save(
        ctx, g, world, model, tokenizer, name, task_pair(g, world), "gdc", g.train_steps, lr, 50, curve_point
    )
    curve = [h for h in state["history"] if "G" in h]
    return {
        "path": name,
        "params": count_parameters(model),
        "curve": curve,
        "lr": lr,
        "train_seconds": round(state["seconds"], 1),
        "history": [h for h in state["history"] if "G" not in h],
    }


def train_own_stage(ctx, size: str, first: dict, g: GdcConfig) -> dict:
    """Stage: phase 2, the phase-1 model trained on its own labelled samples too (``own_training.py``)."""
    world = world_of(g)
    return train_on_own_samples(ctx, size, first, g, world, task_item(g, world), load_trained, curve_point)


def curve_point(ctx, g: GdcConfig, model, tokenizer):
    """``evaluate`` for training: G, D and C on validation problems (balanced items for D and C)."""
    world = world_of(g)
    try:
        problems = world.problems(ctx.seed, "val", g.curve_problems, tag="gdc-curve")
    except UserError:  # a small world (one or two additions) has fewer distinct validation problems
        problems = world.problems(ctx.seed, "val", g.curve_problems, tag="gdc-curve", distinct=False)
    items = evaluation_items(ctx, g, problems, tag="curve")

    def evaluate() -> dict:
        greedy = sample_solutions(
            model,
            tokenizer,
            [p.prompt for p in problems],
            temperature=0.0,
            max_new_tokens=g.max_new_tokens,
            description="validation G",
        )
        flawed = np.array([it["flawed_step"] is not None for it in items])
        d = (discriminate(model, tokenizer, problems, items) > 0) == flawed
        c = [grade(world, problems, it, t).right for it, t in zip(items, critique(model, tokenizer, problems, items))]
        return {
            "G": float(np.mean([world.check(p, t).correct for p, t in zip(problems, greedy)])),
            "D": float(d.mean()),
            "C": float(np.mean(c)),
        }

    return evaluate


def load_trained(ctx, trained: dict):
    from ...models import load_pretrained

    model, tokenizer = load_pretrained(ctx.file(trained["path"]))
    return place(model), tokenizer


def evaluation_items(ctx, g: GdcConfig, problems: list, tag: str = "items") -> list[dict]:
    """Two items per problem, gold and tampered (flaw kinds in turn), the flawed step recorded."""
    world = world_of(g)
    rng = py_rng(ctx.seed, "gdc", tag)
    kinds = flaw_kinds(g, world)
    items = []
    for i, p in enumerate(problems):
        kind = kinds[i % len(kinds)]
        t = world.tamper(p, kind, rng)
        items.append({"problem": i, "text": p.solution, "flawed_step": None, "kind": "sound"})
        items.append({"problem": i, "text": t.text, "flawed_step": t.flawed_step, "kind": kind})
    return items


def discriminate(model, tokenizer, problems, items) -> np.ndarray:
    """log P("flawed") - log P("sound") per item (> 0 means the model calls it flawed)."""
    prompts = [discrimination_prompt(problems[it["problem"]].prompt, it["text"]) for it in items]
    lf = completion_logprobs(model, tokenizer, prompts, [FLAWED] * len(prompts))
    ls = completion_logprobs(model, tokenizer, prompts, [SOUND] * len(prompts))
    return np.asarray(lf) - np.asarray(ls)


def critique_prompts(problems, items, repeat: int = 1) -> list[str]:
    return [critique_prompt(problems[it["problem"]].prompt, it["text"]) for it in items for _ in range(repeat)]


def critique(model, tokenizer, problems, items, temperature=0.0, seed=0, repeat=1) -> list[str]:
    prompts = critique_prompts(problems, items, repeat)
    return sample_solutions(
        model, tokenizer, prompts, temperature=temperature, max_new_tokens=32, seed=seed, description="critiquing"
    )


def grade(world: World, problems, item, text):
    """Grade the critique ``text`` of an evaluation item."""
    return grade_item(world, problems[item["problem"]], item["text"], item["flawed_step"], text)


def evaluate_size(ctx, size: str, trained: dict, gc: GdcConfig, label: str = "") -> dict:
    """Stage: G, D and C of one size on the same problems, with the gaps' paired CIs."""
    world = world_of(gc)
    model, tokenizer = load_trained(ctx, trained)
    problems = test_problems(ctx, gc)
    greedy = sample_solutions(
        model,
        tokenizer,
        [p.prompt for p in problems],
        temperature=0.0,
        max_new_tokens=gc.max_new_tokens,
        description="generating",
    )
    g = np.array([world.check(p, t).correct for p, t in zip(problems, greedy)], float)
    items = evaluation_items(ctx, gc, problems)
    margin = discriminate(model, tokenizer, problems, items)
    texts = critique(model, tokenizer, problems, items)
    grades = [grade(world, problems, it, t) for it, t in zip(items, texts)]
    flawed = np.array([it["flawed_step"] is not None for it in items])
    d_right = (margin > 0) == flawed
    c_right = np.array([gr.right for gr in grades])
    d = d_right.reshape(-1, 2).mean(1)
    c = c_right.reshape(-1, 2).mean(1)
    # C's detection alone (any flag on a flawed item, "no flaw" on a sound one): D - C splits into
    # detection (D - C detects) and localisation (C detects - C), since C must also name the step
    detected = detects(world, texts, flawed).reshape(-1, 2).mean(1)
    boot = ctx.boot
    missed = flawed & ~np.array([gr.caught for gr in grades])
    out = {
        "params": trained["params"],
        "generator": bootstrap_ci(g, **boot),
        "discriminator": bootstrap_ci(d, **boot),
        "critique": bootstrap_ci(c, **boot),
        "gd_gap": bootstrap_ci(d - g, **boot),
        "gc_gap": bootstrap_ci(c - g, **boot),
        "dc_gap": bootstrap_ci(d - c, **boot),
        "critique_detects": bootstrap_ci(detected, **boot),
        "dc_gap_detection": bootstrap_ci(d - detected, **boot),
        "d_on_missed_flaws": bootstrap_ci((margin[missed] > 0).astype(float), **boot) if missed.any() else None,
        "catch_rate": float(np.mean([gr.caught for gr, f in zip(grades, flawed) if f])),
        "hallucination_rate": float(np.mean([gr.hallucination for gr in grades])),
        "well_formed_critiques": float(np.mean([read_critique(world, t).well_formed for t in texts])),
        "catch_rate_by_flaw": {
            k: float(np.mean([gr.caught for gr, it in zip(grades, items) if it["kind"] == k]))
            for k in flaw_kinds(gc, world)
        },
    }
    write_jsonl(
        ctx.file(ctx.artifact(f"samples/gdc_{size}{label}") + ".jsonl"),
        [
            {
                **it,
                "prompt": problems[it["problem"]].prompt,
                "discriminator_margin": float(m),
                "critique": t,
                "critique_right": gr.right,
                "hallucination": gr.hallucination,
            }
            for it, m, t, gr in zip(items, margin, texts, grades)
        ],
    )
    log(f"{size}{label}: G {g.mean():.1%}  D {d.mean():.1%}  C {c.mean():.1%}")
    return {
        "metrics": out,
        "critiques": texts,
        "greedy": greedy,
        "per_problem": {"generator": g.tolist(), "discriminator": d.tolist(), "critique": c.tolist()},
    }


def catch_vs_hallucination(ctx, g: GdcConfig, model, tokenizer, problems, items) -> list[dict]:
    """Best-of-K critiques by log-probability plus a bonus per flagged step, for each bonus."""
    world = world_of(g)
    k = g.critique_samples
    texts = critique(model, tokenizer, problems, items, temperature=1.0, seed=ctx.derive("gdc", "k"), repeat=k)
    logp = np.asarray(completion_logprobs(model, tokenizer, critique_prompts(problems, items, k), texts)).reshape(
        len(items), k
    )
    parsed = [read_critique(world, t) for t in texts]
    flags = np.array([p.step is not None for p in parsed], float).reshape(len(items), k)
    grades = [grade(world, problems, items[i // k], t) for i, t in enumerate(texts)]
    caught = np.array([gr.caught for gr in grades]).reshape(len(items), k)
    halluc = np.array([gr.hallucination for gr in grades]).reshape(len(items), k)
    flawed = np.array([it["flawed_step"] is not None for it in items])
    rows = []
    for bonus in g.bonuses:
        pick = np.argmax(logp + bonus * flags, axis=1)
        at = np.arange(len(items))
        rows.append(
            {
                "bonus": bonus,
                "catch_rate": float(caught[at, pick][flawed].mean()),
                "hallucination_rate": float(halluc[at, pick].mean()),
            }
        )
    return rows


def adversarial_flaws(ctx, g: GdcConfig, model, tokenizer, problems) -> dict:
    """Per problem, several tampered copies; keep one the critic misses. How often can it be evaded,
    and does the same model's discriminator still flag the flaws its critique let through?"""
    world = world_of(g)
    rng = py_rng(ctx.seed, "gdc", "adversarial")
    tries = g.adversarial_tries
    kinds = flaw_kinds(g, world)
    cands = []
    for i, p in enumerate(problems):
        for _ in range(tries):
            t = world.tamper(p, rng.choice(kinds), rng)
            cands.append({"problem": i, "text": t.text, "flawed_step": t.flawed_step})
    texts = critique(model, tokenizer, problems, cands)
    caught = np.array([grade(world, problems, it, t).caught for it, t in zip(cands, texts)]).reshape(
        len(problems), tries
    )
    evaded = ~caught.all(axis=1)
    chosen = [cands[i * tries + int(np.argmin(caught[i]))] for i in np.flatnonzero(evaded)]
    boot = ctx.boot
    out = {
        "tries": tries,
        "evasion_rate": bootstrap_ci(evaded.astype(float), **boot),
        "catch_rate_random_flaws": float(caught.mean()),
    }
    if chosen:
        flagged = discriminate(model, tokenizer, problems, chosen) > 0
        out["discriminator_on_evading_flaws"] = bootstrap_ci(flagged.astype(float), **boot)
    return out


def critic_stage(ctx, size: str, trained: dict, texts: list[str], g: GdcConfig, rater: dict | None = None) -> dict:
    """Stage: the critic's catch-vs-hallucination sweep, adversarial flaws and rater assistance
    (measured with the ``rater`` model, the run's weakest by default)."""
    model, tokenizer = load_trained(ctx, trained)
    problems = test_problems(ctx, g)
    items = evaluation_items(ctx, g, problems)
    sweep = catch_vs_hallucination(ctx, g, model, tokenizer, problems, items)
    out = {"size": size, "sweep": sweep, "adversarial": adversarial_flaws(ctx, g, model, tokenizer, problems)}
    rater_model, rater_tokenizer = load_trained(ctx, rater or trained)
    out["assistance"] = measured_assistance(
        rater_model,
        rater_tokenizer,
        world_of(g),
        problems,
        items,
        texts,
        g.rater_budget,
        ctx.derive("gdc", "rater"),
        ctx.boot,
    )
    return out


def own_samples_stage(
    ctx, size: str, trained: dict, greedy: list[str], g: GdcConfig, label: str = "", samples_from: str | None = None
) -> dict:
    """Stage: G, D, C and the reference discriminators on the model's own samples (``greedy``: the
    greedy solutions ``evaluate_size`` wrote for the same problems). ``label`` names another model
    of the same size (phase 1, the control arm); ``samples_from``: score the samples recorded in
    that file of the run (another model's) instead of drawing this model's own."""
    world = world_of(g)
    model, tokenizer = load_trained(ctx, trained)
    problems = test_problems(ctx, g)
    rows = read_jsonl(ctx.file(samples_from)) if samples_from else None
    metrics, records = evaluate_own_samples(
        model, tokenizer, world, problems, greedy, g.own_samples, ctx.derive("gdc", size, "own"), ctx.boot, rows
    )
    path = ctx.artifact(f"samples/gdc_own_{size}{label}") + ".jsonl"
    write_jsonl(ctx.file(path), records)
    metrics["samples_file"] = path  # the run takes it out of the metrics, with per_problem
    sel = metrics["selection"]
    log(
        f"{size}{label} own samples: G {metrics['generator_samples']['mean']:.1%}, picks: D {sel['discriminator']['mean']:.1%} "
        f"C {sel['critique']['mean']:.1%} compare {sel['compare']['mean']:.1%} surprise {sel['surprise']['mean']:.1%} "
        f"oracle {sel['oracle']['mean']:.1%}"
    )
    return metrics
