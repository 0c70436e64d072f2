"""One weak-to-strong run of some methods on one seed, as stages of that seed's folder.

Every proposal on a seed runs in the same folder, so the stages every method builds on (pretrained
models, the weak supervisor, the ceiling: keyed by ``WeakToStrongConfig.shared()``) are computed once
per seed and each proposal costs one student. Module-level functions: they run in worker processes.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..config import RunConfig, config_from_dict
from ..runtime.context import RunContext
from ..runtime.store import atomic_write_text


def seed_config(base: RunConfig, seed: int) -> RunConfig:
    data = base.model_dump(mode="json")
    data["seed"] = seed
    return config_from_dict(data, f"seed {seed}")


def seed_context(root: Path, cfg: RunConfig) -> RunContext:
    from ..models.device import run_placement

    folder = Path(root) / f"seed-{cfg.seed}"
    if not (folder / "config.yaml").exists():
        atomic_write_text(folder / "config.yaml", cfg.to_yaml())
    ctx = RunContext(str(folder), cfg.seed, cfg.threads, cfg.bootstrap_resamples, **run_placement(cfg))
    ctx.use_models()
    return ctx


def target_section(cfg: RunConfig, pair: list, methods: dict, canaries: bool = False):
    """The weak_to_strong section one evaluation runs: ``methods`` on ``pair`` alone (its shared
    stages, keyed by the pair, are those every evaluation and the boundary's inputs reuse)."""
    return cfg.weak_to_strong.model_copy(
        update={
            "methods": list(methods),
            "method_options": {k: v for k, v in methods.items() if v},
            "noise_seeds": 0,
            "canaries": canaries,
            "pairs": [tuple(pair)],
        }
    )


def evaluate(root: str, base_data: dict, seed: int, pair: list, methods: dict, canaries: bool, threads: int) -> dict:
    """Methods ``{name: options}`` on ``pair`` at ``seed``: each one's PGR and student accuracy on that
    seed's test items (the validation split when the seed is a search seed), the canaries' verdicts,
    and the seconds spent."""
    import torch

    from ..protocols.weak_to_strong import run_task

    start = time.time()
    torch.set_num_threads(threads)
    base = config_from_dict({**base_data, "threads": threads}, "research target")
    cfg = seed_config(base, seed)
    ctx = seed_context(Path(root), cfg)
    torch.manual_seed(seed)
    result = run_task(ctx, target_section(cfg, pair, methods, canaries))
    r = result["pairs"][f"{pair[0]}->{pair[1]}"]
    out = {
        "seed": seed,
        "weak": r["weak"]["mean"],
        "ceiling": r["ceiling"]["mean"],
        "guard": r["guard"],
        "methods": {
            name: {
                "pgr": None if m["pgr"] is None else m["pgr"]["mean"],
                "student": m["student"]["mean"],
                "flags": m["flags"],
            }
            for name, m in r["methods"].items()
        },
        "canaries": {k: {"caught": c["caught"], "flags": c["flags"]} for k, c in result.get("canaries", {}).items()},
        "seconds": round(time.time() - start, 1),
    }
    return out
