"""Sensitivity check for the GDC own-sample endpoints: seeds share test prompts (small worlds), so
besides the platform's pooled CI (seeds, then problems), a two-way bootstrap that resamples seeds and
prompts at once (a prompt drawn counts in every seed that holds it). No torch.
python scripts/gdc_prompt_bootstrap.py RUN_DIR [size]   (RUN_DIR: a fan-out over seeds of configs/gdc_gaps*.yaml)"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

run = Path(sys.argv[1])
size = sys.argv[2] if len(sys.argv) > 2 else "small"


def pick(sound, score):
    top = score >= score.max() - 1e-12
    return sound[top].mean()


per_seed = []  # list of {prompt: {metric: value}}
for sd in sorted(run.glob("seed-*")):
    # phase 2's own samples: gdc_own_<size>-<key>.jsonl; the control arm's and phase 1's files
    # (gdc_own_<size>_control-*, gdc_own_<size>_phase1-*) are other models' and are never read here
    files = sorted((sd / "samples").glob(f"gdc_own_{size}-*.jsonl"))
    if not files:
        continue
    if len(files) > 1:
        sys.exit(f"{sd}/samples: {len(files)} files gdc_own_{size}-*.jsonl (a stage rerun under another key); keep one")
    rows = [json.loads(x) for x in files[0].read_text().splitlines() if x.strip()]
    by = defaultdict(list)
    for r in rows:
        by[r["problem"]].append(r)
    out = {}
    for rs in by.values():
        sound = np.array([r["sound"] for r in rs], float)
        d = pick(sound, np.array([r["discriminator"] for r in rs]))
        dv = pick(sound, (np.array([r["discriminator"] for r in rs]) > 0).astype(float))
        c = pick(sound, np.array([r["critique"] for r in rs]))
        su = pick(sound, np.array([r["surprise"] for r in rs]))
        out[rs[0]["prompt"]] = {
            "dc_selection_verdicts": dv - c,
            "gd_selection": d - sound.mean(),
            "d_minus_surprise": d - su,
            "dc_selection": d - c,
        }
    per_seed.append(out)

if not per_seed:
    sys.exit(f"{run}: no seed-*/samples/gdc_own_{size}-*.jsonl (not a finished GDC fan-out over seeds)")
prompts = sorted(set().union(*per_seed))
index = {p: i for i, p in enumerate(prompts)}
rng = np.random.default_rng(0)
print(f"{len(per_seed)} seeds, {len(prompts)} distinct prompts, {sum(len(s) for s in per_seed)} (seed, problem) units")
for metric in ("dc_selection_verdicts", "gd_selection", "d_minus_surprise", "dc_selection"):
    vals = [np.array([s[p][metric] for p in s]) for s in per_seed]
    ids = [np.array([index[p] for p in s]) for s in per_seed]
    point = np.mean([v.mean() for v in vals])
    stats = []
    for _ in range(2000):
        w = rng.poisson(1.0, len(prompts))  # prompt weights: a prompt drawn k times counts k times in every seed
        seeds = rng.integers(0, len(per_seed), len(per_seed))
        means = []
        for j in seeds:
            ww = w[ids[j]]
            if ww.sum() > 0:
                means.append((vals[j] * ww).sum() / ww.sum())
        stats.append(np.mean(means))
    lo, hi = np.quantile(stats, [0.025, 0.975])
    p = float(np.mean(np.array(stats) <= 0))
    print(f"{metric}: {100 * point:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points; one-sided p(<=0) {p:.3f}")
