"""The commands that run experiments and read run folders: run, demo, report and list.

``run`` and ``demo`` end with the run's summary (``common.finish``); ``report`` rebuilds a run's
report.html and ``list`` prints one row per run folder with its headline metric.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from .common import JSON, QUIET, finish, guard, setup


def _headline(metrics: dict) -> str:
    """One number per run for `autoalign list`: the first experiment's headline."""
    from ..protocol import get_protocol

    for name, results in metrics.items():
        if "=" in name:  # a sweep: the first point's first protocol
            return f"{name}: " + _headline(results)
        return get_protocol(name).headline(results)
    return "-"


def run(
    config: Optional[Path] = typer.Argument(None, help="Experiment config (YAML)."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set generator.lr=0.001"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Run folder (default runs/NAME-TIME)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Run seeds on this Ray cluster."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Run an experiment from a config file, or resume one."""
    from ..config import load_config
    from ..orchestration import execute, load_run_config, open_run
    from ..runtime.store import RunStore

    setup(quiet, as_json)

    def go():
        if resume is not None:
            if config is not None or set_ or run_dir is not None:
                raise UserError("--resume takes only the run folder; the config is the one saved there")
            cfg = load_run_config(resume)
            store = RunStore(resume)
        else:
            if config is None:
                raise UserError("give a config file (autoalign run CONFIG.yaml) or --resume RUN_DIR")
            extra = [f"ray_address={ray_address}", "executor=ray"] if ray_address else []
            cfg = load_config(config, list(set_) + extra)
            store, _ = open_run(cfg, run_dir, config_file=config)
        metrics = execute(store, cfg)
        finish(store, metrics, as_json, quiet)

    guard(go)


def demo(
    quick: bool = typer.Option(
        False, "--quick", help="Smaller experiments, same research (about 8 minutes on 2 cores)."
    ),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Run folder (default runs/demo, or runs/demo-seedK with --seed K)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Another seed than the demo's 0 (retrains everything)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Train a generator from scratch and measure it, then run a small automated search (research/demo.py);
    finished stages are reused next time."""
    from ..config import config_from_dict
    from ..config_io import read_yaml_mapping
    from ..orchestration import execute, open_run
    from ..research.demo import printed_lines, run_demo_research

    setup(quiet, as_json)
    name = "demo-quick" if quick else "demo"

    def go():
        with resources.as_file(resources.files("autoalign") / "configs" / f"{name}.yaml") as path:
            mapping = read_yaml_mapping(path)
            default = name
            if seed is not None and seed != mapping["seed"]:
                mapping["seed"] = seed
                default = f"{name}-seed{seed}"
            cfg = config_from_dict(mapping, str(path))
        folder = run_dir or Path("runs") / default
        try:
            store, resumed = open_run(cfg, folder, config_file=path)
        except UserError:
            if not (folder / "config.yaml").exists():
                raise  # not a run folder: never move a user's folder
            # The demo's config changed since that folder was made: keep the old run, start anew.
            kept = folder.with_name(f"{folder.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
            folder.rename(kept)
            if not quiet and not as_json:
                typer.echo(f"the demo changed; kept the previous run as {kept}", err=True)
            store, resumed = open_run(cfg, folder, config_file=path)
        if resumed and not quiet and not as_json:
            typer.echo(f"reusing finished stages in {folder}", err=True)
        metrics = execute(store, cfg)
        if not as_json:  # its summary first; then the research section (research/demo.py)
            finish(store, metrics, as_json, quiet)
        found = run_demo_research(folder, cfg.seed, lambda note: quiet or as_json or typer.echo(note, err=True))
        if as_json:
            finish(store, metrics, as_json, quiet, research=found)
        for line in [] if quiet or as_json else printed_lines(folder, found):
            typer.echo(line)

    guard(go)


def report(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Rebuild a run's report.html from what the run wrote."""
    from ..orchestration import write_report
    from ..runtime.store import RunStore

    def go():
        if not (run_dir / "config.yaml").exists():
            raise UserError(f"{run_dir}: not a run folder (no config.yaml)")
        typer.echo(f"report: {write_report(RunStore(run_dir))}")

    guard(go)


def list_runs(runs_root: Path = typer.Argument(Path("runs"), help="Folder holding runs.")) -> None:
    """List runs with their protocol, finished stages and headline metric."""
    import yaml
    from rich.console import Console
    from rich.table import Table

    table = Table("run", "protocol", "stages done", "headline")
    for folder in sorted(p for p in runs_root.glob("*") if (p / "config.yaml").is_file()):
        n_stages = len(list((folder / "stages").glob("*.json"))) if (folder / "stages").is_dir() else 0
        try:
            metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").exists() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            metrics = {}
        try:
            protocol = yaml.safe_load((folder / "config.yaml").read_text()).get("protocol", "?")
        except (yaml.YAMLError, AttributeError):
            protocol = "?"
        protocol = ", ".join(protocol) if isinstance(protocol, list) else str(protocol)
        try:
            headline = _headline(metrics)
        except (KeyError, TypeError, StopIteration, IndexError, AttributeError, UserError):
            headline = "-"  # a run stopped part-way, or a sweep
        table.add_row(folder.name, protocol, str(n_stages), headline)
    Console().print(table)
