"""Across the seeds of a shipped over-optimization run: where gold peaks, chosen without the seed it is
measured on, and Gao et al.'s coefficients with t-intervals over seeds.

    python scripts/overoptimization_seeds.py results/overoptimization/seeds0-4 [--plot OUT.png]

Why: the run's own "drop from the peak" is cross-fitted over problems, which removes the test
sampling's noise from the choice of the peak but not the training trajectory's (both halves share
it). Here the peak checkpoint of seed s is the argmax of the other seeds' mean gold curve
(leave-one-seed-out), and the drop is measured on seed s alone: a flat curve gives drops centred on
zero. Exploratory: declared after the registered run had started, before its results were read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from autoalign.measures import seed_t_test


def seed_metrics(folder: Path) -> dict[int, dict]:
    out = {}
    for f in sorted(folder.glob("seed-*/metrics.json")):
        out[int(f.parent.name.split("-")[1])] = json.loads(f.read_text())["overoptimization"]
    if len(out) < 2:
        raise SystemExit(f"{folder}: fewer than two seed-*/metrics.json files")
    return out


def t_line(values: list[float], scale: float = 100.0, spec: str = "+.1f") -> str:
    t = seed_t_test(values)
    p = "-" if t["p"] != t["p"] else f"{t['p']:.3f}"
    per = ", ".join(format(scale * v, spec) for v in values)
    return (
        f"{scale * t['mean']:{spec}} [{scale * t['ci_low']:{spec}}, {scale * t['ci_high']:{spec}}] (seeds {per}; p {p})"
    )


def main(folder: str) -> None:
    by_seed = seed_metrics(Path(folder))
    seeds = sorted(by_seed)
    first = by_seed[seeds[0]]
    print(f"seeds {', '.join(map(str, seeds))}; t-intervals over seeds; p one-sided (> 0)")
    for name, by_method in first.items():
        for method, c in by_method.items():
            if not isinstance(c, dict) or "curve" not in c:
                continue
            curves = np.array([[x["gold"] for x in by_seed[s][name][method]["curve"]] for s in seeds])
            drops = []
            for i in range(len(seeds)):
                others = np.delete(curves, i, axis=0).mean(0)
                drops.append(float(curves[i, int(others.argmax())] - curves[i, -1]))
            at = "step" if method == "rloo" else "round"
            steps = [x[at] for x in first[name][method]["curve"]]
            mean_curve = ", ".join(f"{at} {s}: {100 * g:.1f}" for s, g in zip(steps, curves.mean(0)))
            print(f"{name} {method}: mean gold by checkpoint: {mean_curve}")
            print(f"  drop from the leave-one-seed-out peak: {t_line(drops)} points")
            form = "rl" if method == "rloo" else "bon"
            fits = [by_seed[s][name][method]["fits"][form] for s in seeds]
            if all(f["alpha"] is not None for f in fits):
                alpha = t_line([f["alpha"] for f in fits], 1.0, "+.3f")
                beta = t_line([f["beta"] for f in fits], 1.0, "+.3f")
                print(f"  Gao {form} form (fitted per seed): alpha {alpha}; beta {beta}")


def plot(folder: str, out: str) -> None:
    """Gold accuracy against sqrt KL, one panel per reward, one line per seed and optimizer."""
    from autoalign.report.figures import plt, save_figure

    by_seed = seed_metrics(Path(folder))
    names = list(next(iter(by_seed.values())))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(np.atleast_1d(axes), names):
        for i, (seed, m) in enumerate(sorted(by_seed.items())):
            for method, style in (("rloo", "o-"), ("expert_iteration", "s--")):
                c = m[name].get(method)
                if isinstance(c, dict) and "curve" in c:
                    d = [x["sqrt_kl"] for x in c["curve"]]
                    ax.plot(d, [100 * x["gold"] for x in c["curve"]], style, color=colors[i % len(colors)], ms=3, lw=1)
        ax.set_title(f"optimized against {name}")
        ax.set_xlabel("sqrt KL(policy || initial), nats^0.5")
    np.atleast_1d(axes)[0].set_ylabel("gold accuracy, held-out problems (%)")
    np.atleast_1d(axes)[0].plot([], [], "k-", label="RLOO")
    np.atleast_1d(axes)[0].plot([], [], "k--", label="expert iteration")
    np.atleast_1d(axes)[0].legend(fontsize=7, title="one colour per seed", title_fontsize=7)
    save_figure(fig, Path(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == "--plot":
        plot(args[0], args[2])
    elif len(args) == 1:
        main(args[0])
    else:
        raise SystemExit(__doc__)
