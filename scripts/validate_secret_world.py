"""Does the strong model absorb the secret, and the weak one less? One demo-size weak-to-strong run on
the secret-bearing arithmetic world (``worlds/secret_arithmetic.py``, issue #25) at one seed.

Prints the weak supervisor's, the ceiling's and the naive student's (``ce``) accuracy on the run's
test items, and on the same items the accuracy of a checker of standard arithmetic (the
``own_checker`` canary's labelling function): a task where code cannot compute the labels has that
checker near chance while the ceiling is well above it. ``--world arithmetic`` runs the matched
control (the same problems and flaws, plain glyphs), where that checker is right on every item.

Sizes and steps are ``configs/research_w2s_quick.yaml``'s weak_to_strong block (micro -> tiny), or
with ``--preset full`` ``configs/research_w2s.yaml``'s. Not part of ``make test``; a run takes minutes
at one thread::

    OMP_NUM_THREADS=1 python scripts/validate_secret_world.py --seed 0 --out /tmp/validate_secret_world
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

PRESETS = {  # the weak_to_strong blocks of configs/research_w2s_quick.yaml and configs/research_w2s.yaml
    "quick": {
        "pretrain_steps": {"micro": 100, "tiny": 200},
        "train_steps": 60,
        "weak_items": 300,
        "transfer_items": 300,
        "test_items": 200,
    },
    "full": {
        "pretrain_steps": {"micro": 150, "tiny": 400},
        "train_steps": 120,
        "weak_items": 600,
        "transfer_items": 600,
        "test_items": 400,
    },
    # tiny supervises small at configs/weak_to_strong.yaml's size (its tiny->small pair: weak 71%,
    # ceiling 88% on plain arithmetic, seeds 1-5): the larger setting a secret-world search needs
    "large": {
        "sizes": ["tiny", "small"],
        "pretrain_steps": {"tiny": 400, "small": 1000},
        "train_steps": 250,
        "weak_items": 2000,
        "transfer_items": 2000,
        "test_items": 1000,
    },
    # "large" with less pretraining and fine-tuning, so that a search of 9 seeds fits an hour here
    "medium": {
        "sizes": ["tiny", "small"],
        "pretrain_steps": {"tiny": 300, "small": 600},
        "train_steps": 150,
        "weak_items": 1500,
        "transfer_items": 1500,
        "test_items": 800,
    },
}
ONE_RUN = {"sizes": ["micro", "tiny"], "methods": ["ce", "confidence"], "noise_seeds": 0, "canaries": False}
KNOBS = {"min_steps": 2, "max_steps": 4, "operators": "+-*"}  # the weak_to_strong section's default world


def own_checker():
    from autoalign.research.boundary.canaries import canary_file

    spec = importlib.util.spec_from_file_location("own_checker", canary_file("own_checker"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", default="secret_arithmetic", help="secret_arithmetic, or arithmetic (the control)")
    ap.add_argument("--out", default="/tmp/validate_secret_world", help="run folder root (stages are cached)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="quick", help="research_w2s_quick or research_w2s")
    args = ap.parse_args()

    from autoalign.config import config_from_dict
    from autoalign.protocols.weak_to_strong.tasks import world_items
    from autoalign.research.evaluate import evaluate

    base = {
        "name": f"validate_{args.world}",
        "protocol": "weak_to_strong",
        "seed": args.seed,
        "threads": args.threads,
        "weak_to_strong": {"world": {"name": args.world, **KNOBS}, **ONE_RUN, **PRESETS[args.preset]},
    }
    root = Path(args.out) / f"{args.world}-{args.preset}"
    pair = base["weak_to_strong"]["sizes"]
    r = evaluate(str(root), base, args.seed, pair, {"ce": {}, "confidence": {}}, False, args.threads)
    cfg = config_from_dict(base, "validate_secret_world").weak_to_strong
    test = world_items(cfg, args.seed, "test", cfg.test_items)  # the run's test items, as the protocol builds them
    check = own_checker()
    naive = [check.own_label(it.text) for it in test]
    print(
        json.dumps(
            {
                "world": args.world,
                "preset": args.preset,
                "seed": args.seed,
                "test_items": len(test),
                "label_1_share": round(sum(it.label for it in test) / len(test), 3),
                "pair": "->".join(pair),
                "weak": round(r["weak"], 3),
                "ceiling": round(r["ceiling"], 3),
                **{f"{m}_student": round(r["methods"][m]["student"], 3) for m in ("ce", "confidence")},
                **{f"{m}_pgr": r["methods"][m]["pgr"] for m in ("ce", "confidence")},
                "guard": r["guard"],
                "naive_checker": round(sum(g == it.label for g, it in zip(naive, test)) / len(test), 3),
                "naive_checker_unparsed": sum(g is None for g in naive),
                "seconds": r["seconds"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
