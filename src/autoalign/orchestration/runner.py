"""Starting, resuming and finishing one run: the glue between a config, a run folder and its protocols."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..config import RunConfig, config_from_dict
from ..config_io import read_yaml_mapping
from ..endpoints import record_endpoints
from ..errors import UserError
from ..preregistration import record_provenance, record_run_start
from ..protocol import get_protocol
from ..runtime.context import RunContext
from ..runtime.store import RunStore, atomic_write_text, split_units
from .report import write_report


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            diff = _first_difference(va, vb, f"{prefix}{key}.")
            if diff:
                return diff
        elif va != vb:
            return f"{prefix}{key}"
    return None


def open_run(
    cfg: RunConfig, run_dir: str | Path | None, runs_root: str | Path = "runs", config_file: str | Path | None = None
) -> tuple[RunStore, bool]:
    """A run folder for ``cfg``: new, or the same run again (resumed) if it holds the same config.

    Returns ``(store, resumed)``. A folder holding a different config is never overwritten. A new
    folder records the code's commit and the config file it came from (``preregistration.py``).
    """
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(runs_root) / f"{cfg.name}-{stamp}"
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if saved.exists():
        old = load_run_config(run_dir)
        # where and how fast it runs is not what it computes: a run may resume on another machine,
        # or reach its served models at another address (``providers``)
        where = ("threads", "executor", "workers", "ray_address", "device", "providers")
        diff = _first_difference(
            {k: v for k, v in old.model_dump(mode="json").items() if k not in where},
            {k: v for k, v in cfg.model_dump(mode="json").items() if k not in where},
        )
        if diff:
            raise UserError(
                f"{run_dir}: holds a run with a different config ({diff} differs); "
                "use another --run-dir, or --resume to continue that run"
            )
        return RunStore(run_dir), True
    if run_dir.exists() and any(p.name != ".gitkeep" for p in run_dir.iterdir()):
        raise UserError(f"{run_dir}: folder exists and is not an autoalign run; choose another --run-dir")
    store = RunStore(run_dir)
    atomic_write_text(saved, cfg.to_yaml())
    record_run_start(run_dir, config_file)
    store.event("run_created", config_digest=cfg.digest())
    return store, False


def load_run_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise UserError(f"{run_dir}: not a run folder (no config.yaml)")
    return config_from_dict(read_yaml_mapping(path), str(path))


def execute_single(store: RunStore, cfg: RunConfig) -> dict:
    """Run the config's protocols in order in ``store`` (finished stages are reused), then judge its
    endpoints and write its report."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    providers = {name: settings.model_dump(mode="json") for name, settings in cfg.providers.items()}
    ctx = RunContext(
        str(store.path), cfg.seed, cfg.threads, cfg.bootstrap_resamples, providers=providers, **_placement(cfg)
    )
    ctx.use_models()
    store.event("run_started", protocol=cfg.protocol, device=ctx.device, autocast=ctx.autocast, compile=ctx.compile)
    metrics = store.metrics
    for name in cfg.protocols:
        spec = get_protocol(name)
        results = spec.run(ctx, cfg)
        if spec.results is not None:
            spec.results.model_validate(split_units(results)[0])  # typed results: fail loudly, here
        metrics = store.write_results(name, results)
    record_endpoints(store, cfg)  # after every protocol: endpoints may span several
    placement = {"device": ctx.device, "autocast": ctx.autocast}
    metrics = record_provenance(store, cfg, placement)  # commit, clean tree, science digest, seeds, placement
    write_report(store)
    store.event("run_finished")
    return metrics


def _placement(cfg: RunConfig) -> dict:
    """Device, dtype, autocast and compile resolved; imported here so that a config error never pays for importing transformers."""
    from ..models.device import run_placement

    return run_placement(cfg)
