"""The control arm of phase 2: the same extra steps, with planted items where phase 2 shows own samples.

Why: phase 2 (``own_training.py``) trains the phase-1 model ``own_train_steps`` more at a tenth of
its lr, with a share of the discrimination and critique items drawn from its own labelled samples.
Whatever changes after it (D on planted flaws fell on arithmetic, seeds 6-10) may come from the own
samples or merely from more training at a low lr. The control continues the same phase-1 model for
the same steps, lr, warm-up and item stream (``mixed_pair(control=True)``: the same generation and
planted items in the same places) and shows a fresh planted item wherever phase 2 shows an own
sample. It runs for the critic's size only (the endpoints' size; training is most of a run's time).

All three models (phase 1, phase 2, control) are measured on the same items, so every comparison
is paired per test problem: planted flaws (G, D, C, DC) and phase 2's own test samples, which the
other two models' evaluators score too (D's verdict pick, D verdict - C, D's within-problem AUROC):
scoring each model's own samples would mix a change of the generator into a change of D.
"""

from __future__ import annotations

import re

import numpy as np

from ...measures import bootstrap_ci
from .own_training import mixed_pair, sample_own_training_items, train_and_save
from .stages import curve_point, evaluate_size, load_trained, own_samples_stage, task_item, world_of

ARM_MEASURES = ("generator", "discriminator", "critique", "dc_gap", "critique_detects")
OWN_MEASURES = ("selection_discriminator_verdict", "dc_selection_verdicts", "within_auroc", "balanced_accuracy")


def train_control_stage(ctx, size: str, first: dict, phase2: dict, g) -> dict:
    """Stage: the phase-1 model ``first`` trained ``own_train_steps`` more, aligned with phase 2
    (``phase2``, whose saved own training samples set where phase 2 showed one)."""
    world = world_of(g)
    model, tokenizer = load_trained(ctx, first)
    items, _ = sample_own_training_items(ctx, g, world, model, tokenizer, ctx.file(phase2["path"] + ".samples.jsonl"))
    name = ctx.artifact("models/gdc_control_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", size))
    state = train_and_save(
        ctx,
        g,
        world,
        model,
        tokenizer,
        name,
        mixed_pair(g, task_item(g, world), items, control=True),
        "gdc-own",
        g.own_train_steps,
        first["lr"] * g.own_train_lr_scale,
        min(50, g.own_train_steps),
        curve_point,
    )
    shift = g.train_steps
    return {
        "path": name,
        "params": first["params"],
        "lr": first["lr"],
        "train_seconds": round(state["seconds"], 1),
        "curve": [{**h, "step": h["step"] + shift, "phase": "control"} for h in state["history"] if "G" in h],
        "history": [{**h, "step": h["step"] + shift, "phase": "control"} for h in state["history"] if "G" not in h],
    }


def paired(a, b, boot: dict):
    """Mean of a - b over the problems both hold (lists of per-problem values, or {problem: value})."""
    if isinstance(a, dict):
        common = sorted(set(a) & set(b))
        a, b = [a[k] for k in common], [b[k] for k in common]
    if not len(a):
        return None
    return bootstrap_ci(np.asarray(a, float) - np.asarray(b, float), **boot)


def arm_difference(a: dict, b: dict, boot: dict) -> dict:
    """Per-problem paired differences a - b of two models. Each: ``{"planted": {generator,
    discriminator, critique: per problem}, "own": {discriminator_verdict, critique: per problem,
    within_auroc_discriminator: {problem: AUROC}} or None}``, own on the same samples for both."""
    pa, pb = a["planted"], b["planted"]
    out = {k: paired(pa[k], pb[k], boot) for k in ("generator", "discriminator", "critique")}
    out["dc_gap"] = paired(
        np.subtract(pa["discriminator"], pa["critique"]), np.subtract(pb["discriminator"], pb["critique"]), boot
    )
    if a.get("own") and b.get("own"):
        oa, ob = a["own"], b["own"]
        out["own_discriminator_verdict_pick"] = paired(oa["discriminator_verdict"], ob["discriminator_verdict"], boot)
        out["own_dc_selection_verdicts"] = paired(
            np.subtract(oa["discriminator_verdict"], oa["critique"]),
            np.subtract(ob["discriminator_verdict"], ob["critique"]),
            boot,
        )
        out["own_within_auroc_discriminator"] = paired(
            oa["within_auroc_discriminator"], ob["within_auroc_discriminator"], boot
        )
    return out


def control_arm(
    ctx, size: str, phase1: dict, phase2: dict, g, evaluated: dict, own: dict | None, own_file: str | None
) -> dict:
    """Train and measure the control arm of ``size``; measure phase 1 alike; the paired differences.
    ``evaluated``: phase 2's ``evaluate_size`` result; ``own`` and ``own_file``: phase 2's per-problem
    own-sample values and the records file of its own test samples (None without own samples)."""
    control = ctx.stage(f"gdc.{size}.train_control", train_control_stage, size, phase1, phase2, g)
    arms = {"phase2": {"planted": evaluated["per_problem"], "own": own}}
    out: dict = {"curve": control["curve"]}
    for arm, trained in (("phase1", phase1), ("control", control)):
        result = ctx.stage(f"gdc.{size}.evaluate_{arm}", evaluate_size, size, trained, g, f"_{arm}")
        out[arm] = {k: result["metrics"][k] for k in ARM_MEASURES}
        arms[arm] = {"planted": result["per_problem"], "own": None}
        if own_file:
            metrics = ctx.stage(
                f"gdc.{size}.own_samples_{arm}",
                own_samples_stage,
                size,
                trained,
                result["greedy"],
                g,
                f"_{arm}",
                own_file,
            )
            arms[arm]["own"] = metrics.pop("per_problem")
            out[arm]["own_samples"] = {k: metrics[k] for k in OWN_MEASURES}
    out["phase2_minus_control"] = arm_difference(arms["phase2"], arms["control"], ctx.boot)
    out["phase2_minus_phase1"] = arm_difference(arms["phase2"], arms["phase1"], ctx.boot)
    out["control_minus_phase1"] = arm_difference(arms["control"], arms["phase1"], ctx.boot)
    return out
