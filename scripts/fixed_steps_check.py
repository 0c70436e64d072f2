"""Does the generator's early stop amplify a float-level difference? The comparison
``bench/fixed_steps_check.yaml`` declares, on generator accuracy, paired by seed (d = bf16 - fp32):

1. the variance of d at a fixed 1,000 steps against its variance under the demo's early stop (the shipped
   five-seed bf16 check, ``results/autocast_check``), one-sided F-test at alpha 0.05;
2. at fixed steps, the bf16 check's own rule ("does not move" if the 95% t-interval of mean d lies within
   +-5 points, "moves" if it excludes 0, else inconclusive).

    python scripts/fixed_steps_check.py runs/fs-fp32 runs/fs-bf16 \\
        [results/autocast_check/fp32-seeds31-35 results/autocast_check/bf16-seeds31-35]
"""

from __future__ import annotations

import io
import json
import math
import statistics
import sys
from contextlib import redirect_stdout
from pathlib import Path

from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autocast_check import per_seed, policy, verdict  # noqa: E402

EARLY_STOP = ("results/autocast_check/fp32-seeds31-35", "results/autocast_check/bf16-seeds31-35")
ALPHA = 0.05
NAME = "generator accuracy"
SEEDS = [31, 32, 33, 34, 35]
BF16 = ("bf16", "bf16-wide")


def void(reason: str) -> SystemExit:
    return SystemExit(f"void, as bench/fixed_steps_check.yaml declares: {reason}")


def provenance(folder: str) -> dict:
    path = Path(folder) / "provenance.json"
    if not path.is_file():
        raise void(f"{path}: missing (the run records its commit there)")
    return json.loads(path.read_text())


def check_arms(fixed: tuple[str, str]) -> None:
    """The declared design: fp32 arm off, bf16 arm bf16, both from one clean commit."""
    fp32, bf16 = policy(Path(fixed[0])), policy(Path(fixed[1]))
    print(f"resolved autocast at fixed steps: fp32 run {fp32}, bf16 run {bf16}")
    if fp32 != "off":
        raise void(f"{fixed[0]}: the fp32 arm resolved autocast to {fp32}, not off")
    if bf16 not in BF16:
        raise void(f"{fixed[1]}: the bf16 arm resolved autocast to {bf16} (auto is off on this machine?)")
    commits = [provenance(f).get("commit") for f in fixed]
    dirty = [f for f in fixed if not provenance(f).get("clean")]
    if commits[0] != commits[1] or dirty:
        raise void(f"the two arms must run one clean commit; commits {commits}, uncommitted changes in {dirty}")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def differences(fp32_dir: str, bf16_dir: str, scale=lambda p: p) -> dict[int, float]:
    a, b = per_seed(Path(fp32_dir), [NAME]), per_seed(Path(bf16_dir), [NAME])
    if sorted(a) != SEEDS or sorted(b) != SEEDS:
        raise void(f"{fp32_dir}, {bf16_dir}: seeds {sorted(a)} and {sorted(b)}, declared {SEEDS}")
    seeds = SEEDS
    for s in seeds:
        print(f"  seed {s}: fp32 {100 * a[s][NAME]:.1f}, bf16 {100 * b[s][NAME]:.1f}")
    return {s: scale(b[s][NAME]) - scale(a[s][NAME]) for s in seeds}


def main(fixed: tuple[str, str], early: tuple[str, str]) -> None:
    check_arms(fixed)
    print("fixed 1,000 steps:")
    d_fixed = differences(*fixed)
    print("early stop (the shipped bf16 check):")
    d_early = differences(*early)
    v_fixed, v_early = statistics.variance(d_fixed.values()), statistics.variance(d_early.values())
    f = v_early / v_fixed if v_fixed > 0 else float("inf")
    p = stats.f.sf(f, len(d_early) - 1, len(d_fixed) - 1)
    print(
        f"SD of bf16 - fp32 over seeds: early stop {100 * v_early**0.5:.1f} points, fixed steps "
        f"{100 * v_fixed**0.5:.1f} points; F = {f:.2f}, one-sided p = {p:.3f}"
    )
    print(
        f"1. the early stop {'amplifies' if p < ALPHA else 'is not shown to amplify'} the perturbation (alpha {ALPHA})"
    )
    # Not declared: accuracy near 100% has less room to move, so the same test on a logit scale.
    with redirect_stdout(io.StringIO()):
        l_fixed, l_early = differences(*fixed, scale=logit), differences(*early, scale=logit)
    lv_fixed, lv_early = statistics.variance(l_fixed.values()), statistics.variance(l_early.values())
    lf = lv_early / lv_fixed
    print(
        f"   on a logit scale (not declared; allows for the ceiling): SD early stop {lv_early**0.5:.2f}, fixed "
        f"steps {lv_fixed**0.5:.2f} logits; F = {lf:.2f}, one-sided p = {stats.f.sf(lf, len(l_early) - 1, len(l_fixed) - 1):.2f}"
    )
    mean, lo, hi, word = verdict(list(d_fixed.values()))
    print(f"2. at fixed steps, bf16 - fp32: {100 * mean:+.1f} points [95% CI {100 * lo:+.1f}, {100 * hi:+.1f}]: {word}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 5):
        raise SystemExit(__doc__.strip().splitlines()[-1].strip())
    main((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4]) if len(sys.argv) == 5 else EARLY_STOP)
