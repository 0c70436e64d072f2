"""From the interpretability stages to one seed's metrics: score distributions, baselines, recovery, ablation.

Per site (MLP neurons, residual dimensions, SAE features): every unit's held-out score, sorted high to
low (so that pooling seeds position by position averages their quantile curves, never unrelated
units), quantiles, the share above 0.8 (Bills et al.'s mark of a well-explained neuron), the mean
random and shuffled baselines, and score minus each baseline per unit with a CI over units. Units
whose activations are constant on the held-out excerpts score 0 by convention and stay in the
distribution (their count is reported). Ablation effects pair conditions text by text, with CIs over
the ablation texts.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci

WELL_EXPLAINED = 0.8  # Bills et al. (2023): about a thousand of GPT-2 XL's 307,200 neurons above it
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
BEST_SHOWN = 5


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def site_summary(ctx, r: dict, unit: str) -> dict:
    scores, random, shuffled = (np.asarray(r[k], dtype=float) for k in ("scores", "random", "shuffled"))
    best = np.argsort(-scores, kind="stable")[:BEST_SHOWN]
    counts: dict[str, int] = {}
    for e in r["explanations"]:
        counts[e] = counts.get(e, 0) + 1
    common = sorted(counts.items(), key=lambda kv: -kv[1])[:BEST_SHOWN]
    return {
        "units": len(scores),
        "constant": int(sum(r["constant"])),
        "mean_score": float(scores.mean()),
        "quantiles": {f"q{round(100 * q)}": float(np.quantile(scores, q)) for q in QUANTILES},
        "share_above_0_8": float((scores > WELL_EXPLAINED).mean()),
        "random_baseline": float(random.mean()),
        "shuffled_baseline": float(shuffled.mean()),
        "score_minus_random": bootstrap_ci(scores - random, **ctx.boot, unit=unit),
        "score_minus_shuffled": bootstrap_ci(scores - shuffled, **ctx.boot, unit=unit),
        "detection_auroc": _mean(r["detection"]),
        "fuzzing_auroc": _mean(r["fuzzing"]),
        "best": [
            {
                "layer": r["units"][j][0],
                "unit": r["units"][j][1],
                "explanation": r["explanations"][j],
                "score": scores[j],
            }
            for j in best
        ],
        "common_explanations": [{"explanation": e, "units": n} for e, n in common],
        "scores_descending": [round(float(v), 4) for v in sorted(scores, reverse=True)],
        "random_descending": [round(float(v), 4) for v in sorted(random, reverse=True)],
    }


def planted_summary(ctx, p: dict) -> dict:
    out = {k: v for k, v in p.items() if k not in ("ablation_kl", "random_ablation_kl")}
    target, random = np.asarray(p["ablation_kl"]), np.asarray(p["random_ablation_kl"])
    out["ablation"] = {
        "planted_kl": bootstrap_ci(target, **ctx.boot, unit="texts"),
        "random_kl": bootstrap_ci(random, **ctx.boot, unit="texts"),
        "planted_minus_random": bootstrap_ci(target - random, **ctx.boot, unit="texts"),
    }
    return out


def ablation_summary(ctx, a: dict) -> dict:
    boot = {**ctx.boot, "unit": "texts"}
    best, random, other = (np.asarray(a[k]) for k in ("best_kl", "random_kl", "elsewhere_kl"))
    return {
        "k": len(a["neurons"]),
        "neurons": a["neurons"],
        "firing_share": a["firing_share"],
        "best_kl": bootstrap_ci(best, **boot),
        "random_kl": bootstrap_ci(random, **boot),
        "elsewhere_kl": bootstrap_ci(other, **boot),
        "best_minus_random": bootstrap_ci(best - random, **boot),
        "best_minus_elsewhere": bootstrap_ci(best - other, **boot),
        "best_loss_change": bootstrap_ci(a["best_loss"], **boot),
        "random_loss_change": bootstrap_ci(a["random_loss"], **boot),
    }


def evaluate(ctx, gen: dict, explained: dict, sae: dict, planted: dict, ablation: dict) -> dict:
    out = {
        "params": gen.get("params"),
        "texts": explained["texts"],
        "grammar_features": explained["grammar"],
        "mlp": site_summary(ctx, explained["mlp"], "neurons"),
    }
    if "residual" in explained:
        out["residual"] = site_summary(ctx, explained["residual"], "dimensions")
    out["sae"] = {
        **site_summary(ctx, sae["sae"], "features"),
        "layer": sae["layer"],
        "held_out": sae["held_out"],
        "history": sae["history"],
    }
    comparison = {"sae_minus_mlp": out["sae"]["mean_score"] - out["mlp"]["mean_score"]}
    if "residual" in explained:  # the fair comparison: the same layer's residual, in its own basis
        layer = explained["residual"]
        same = [s for u, s in zip(layer["units"], layer["scores"]) if u[0] == sae["layer"]]
        comparison["residual_same_layer_mean_score"] = float(np.mean(same))
        comparison["sae_minus_residual_same_layer"] = out["sae"]["mean_score"] - float(np.mean(same))
    out["comparison"] = comparison
    out["planted"] = planted_summary(ctx, planted)
    out["ablation"] = ablation_summary(ctx, ablation)
    return out
