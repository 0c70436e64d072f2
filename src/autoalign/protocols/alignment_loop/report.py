"""What ``autoalign`` prints for an alignment-loop run: each arm's rounds, then the comparisons."""

from __future__ import annotations


def _est(e: dict) -> str:
    return f"{100 * e['mean']:+.1f} [{100 * e['ci_low']:+.1f}, {100 * e['ci_high']:+.1f}]"


def summary(r: dict) -> list[str]:
    lines = [
        f"initial policy: gold {100 * r['initial_gold']:.1f}% ({r['calibration_labels']} calibration labels, shared)"
    ]
    for arm, a in r["arms"].items():
        lines.append(f"{arm} ({a['labels']} labels, {a['wrong_labelled']} of them wrong samples):")
        for x in a["rounds"]:
            lines.append(
                f"  round {x['round']}: {x['labels']} labels, {x['rl_steps']} RL steps: gold {100 * x['gold']:.1f}%, "
                f"wrong but accepted {100 * x['wrong_accepted']:.1f}%, sqrt KL {x['sqrt_kl']:.2f}"
            )
    for key, d in r.items():
        if key.endswith(("_vs_upfront", "_vs_frozen")):
            lines.append(
                f"{key.replace('_', ' ')}: gold {_est(d['gold'])} points, wrong but accepted {100 * d['wrong_accepted']:+.1f} points"
            )
    return lines


def headline(r: dict) -> str:
    return ", ".join(f"{arm} {100 * a['final_gold']:.1f}%" for arm, a in r["arms"].items())
