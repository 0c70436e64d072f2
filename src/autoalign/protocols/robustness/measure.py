"""One overseer's robustness, measured the same way for every overseer and control.

Given a score function (an overseer, a floor or the ceiling), the world, the attacked problems and the
texts to perturb: the acceptance threshold on the calibration texts, the attack (read at every query
budget), the flip rate, and how many held-out gold texts it accepts. Per-problem successes and
per-text flips are kept under ``_paired`` so that overseers can be compared on the same problems.
"""

from __future__ import annotations

import numpy as np

from ...interpretability.robustness import (
    acceptance_threshold,
    any_wrong_step,
    attack,
    solution_scores,
    success_within,
    verdict_flip_rate,
    wrong_answer,
)
from ...measures import bootstrap_ci

EXAMPLES = 3  # found texts kept per overseer, to show what fooled it


def sampler(samples: list[list[str]]):
    """The attack's generator: the i-th call returns each problem's i-th stored sample."""
    calls = iter(range(1 << 30))

    def generate(problems) -> list[str]:
        i = next(calls)
        return [s[i % len(s)] for s in samples]

    return generate


def robustness_of(ctx, score, world, edits, problems, calibration, flips, samples, r, rejects="wrong_answer") -> dict:
    """``calibration`` and ``flips``: (problems, texts); ``samples``: per attacked problem, its samples."""
    a = r.attack
    threshold = acceptance_threshold(score, *calibration, accept_share=r.accept_share)
    result = attack(
        score,
        threshold,
        world,
        problems,
        generator=sampler(samples) if samples and a.samples else None,
        n_samples=a.samples,
        rounds=a.rounds,
        per_round=a.per_round,
        beam=a.beam,
        rejects=any_wrong_step if rejects == "any_wrong_step" else wrong_answer,
        seed=ctx.derive("attack"),
        edits=edits,
    )
    flipped = verdict_flip_rate(score, threshold, world, *flips, seed=ctx.derive("flips"), edits=edits)
    golds = solution_scores(score, problems, [edits.start(p) for p in problems]) >= threshold
    examples = [{"prompt": p.prompt, "text": t} for p, t in zip(problems, result.found) if t is not None]
    return {
        "threshold": threshold,
        "test_gold_accepted": bootstrap_ci(golds, **ctx.boot),
        "attack": {
            "success": bootstrap_ci(result.success, **ctx.boot),
            "by_budget": {str(b): bootstrap_ci(success_within(result, b), **ctx.boot) for b in a.budgets},
            "mean_queries": float(np.mean(result.queries)),
            "examples": examples[:EXAMPLES],
        },
        "flips": {
            "rate": bootstrap_ci(flipped.per_text, **ctx.boot) if flipped.per_text else None,
            "by_kind": flipped.by_kind,
        },
        "_paired": {"success": [float(x) for x in result.success], "flips": flipped.per_text},
    }


def paired_differences(ctx, by_name: dict, names: list[str]) -> dict:
    """``a_minus_b`` for every pair of ``names``: attack success and flip rate, paired per problem (per text)."""
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pa, pb = by_name[a]["_paired"], by_name[b]["_paired"]
            out[f"{a}_minus_{b}"] = {
                "success": bootstrap_ci(np.subtract(pa["success"], pb["success"]), **ctx.boot),
                "flips": bootstrap_ci(np.subtract(pa["flips"], pb["flips"]), **ctx.boot) if pa["flips"] else None,
            }
    return out


def public(m: dict) -> dict:
    """A measurement without its paired per-unit values."""
    return {k: v for k, v in m.items() if k != "_paired"}
