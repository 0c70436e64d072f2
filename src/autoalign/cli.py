"""The ``autoalign`` command line: demo, run, report, list, and data import/export.

A user's mistake (bad YAML, an unknown key, a bad flag, a broken JSONL line) ends with one line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError
from .verifier_training import cli as tv

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="autoalign: an automated alignment lab.",
)
data_app = typer.Typer(no_args_is_help=True, help="Export and check data in TRL's stepwise JSONL format.")
app.add_typer(data_app, name="data")

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or log lines.")
JSON = typer.Option(False, "--json", help="Print the run's metrics as JSON on stdout.")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _setup(quiet: bool, as_json: bool) -> None:
    from .runtime.progress import set_progress

    set_progress(not (quiet or as_json))


def _finish(store, metrics: dict, as_json: bool, quiet: bool, **more) -> None:
    from .report.summary import summary_lines

    if as_json:  # ``more``: the demo's research result
        typer.echo(json.dumps({"run_dir": str(store.path), "metrics": metrics, **more}, indent=2))
        return
    if quiet:
        return
    seeds = json.loads(store.file("seeds.json").read_text()) if store.file("seeds.json").exists() else None
    for line in summary_lines(metrics, seeds, sweep=store.file("sweep.json").exists()):
        typer.echo(line)
    typer.echo(f"report: {store.file('report.html')}")


def _headline(metrics: dict) -> str:
    """One number per run for `autoalign list`: the first experiment's headline."""
    from .protocol import get_protocol

    for name, results in metrics.items():
        if "=" in name:  # a sweep: the first point's first protocol
            return f"{name}: " + _headline(results)
        return get_protocol(name).headline(results)
    return "-"


def _guard(fn):
    """Turn user errors into one line and Ctrl-C into a resumable stop."""
    try:
        return fn()
    except UserError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail("interrupted; finished stages are kept: resume with `autoalign run --resume RUN_DIR`", 130)


@app.command()
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
    from .config import load_config
    from .orchestration import execute, load_run_config, open_run
    from .runtime.store import RunStore

    _setup(quiet, as_json)

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
        _finish(store, metrics, as_json, quiet)

    _guard(go)


@app.command()
def demo(
    quick: bool = typer.Option(False, "--quick", help="Smaller experiments (about 4 minutes), same research."),
    run_dir: Optional[Path] = typer.Option(
        None, "--run-dir", help="Run folder (default runs/demo, or runs/demo-seedK with --seed K)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Another seed than the demo's 0 (retrains everything)."),
    quiet: bool = QUIET,
    as_json: bool = JSON,
) -> None:
    """Train a generator from scratch and measure it, then run a small automated search (research/demo.py);
    finished stages are reused next time."""
    from .config import config_from_dict
    from .config_io import read_yaml_mapping
    from .orchestration import execute, open_run
    from .research.demo import printed_lines, run_demo_research

    _setup(quiet, as_json)
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
            _finish(store, metrics, as_json, quiet)
        found = run_demo_research(folder, cfg.seed, lambda note: quiet or as_json or typer.echo(note, err=True))
        if as_json:
            _finish(store, metrics, as_json, quiet, research=found)
        for line in [] if quiet or as_json else printed_lines(folder, found):
            typer.echo(line)

    _guard(go)


@app.command()
def research(
    config: Path = typer.Argument(..., help="Research config (YAML): target, search space, proposers, seeds."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set research.proposers.tpe=4"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Research folder (default runs/NAME-TIME)."),
    quiet: bool = QUIET,
) -> None:
    """Search a weak-to-strong method space with proposers (random, Optuna TPE, a language model), keep a proposal only if
    a seed-level test says it beats the incumbent, then score what was kept once on sealed test labels
    of fresh seeds. Writes notebook.jsonl, research.json, curve.png and research.html."""
    from .research.config import load_research
    from .research.loop import run_research
    from .research.notebook import summary_lines

    _setup(quiet, False)

    def go():
        research_file, _ = load_research(config, list(set_))  # a bad config fails before any folder exists
        folder = run_dir or Path("runs") / f"{research_file.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        result = run_research(config, folder, list(set_))
        if not quiet:
            for line in summary_lines(result):
                typer.echo(line)
            typer.echo(f"report: {folder / 'research.html'}")

    _guard(go)


@app.command()
def summary(
    run_dir: Path = typer.Argument(..., help="A finished run folder, or a shipped copy of its metrics.json's folder."),
) -> None:
    """Print the summary a run printed when it ended, from its metrics.json (the README's demo figures
    are this command's output on results/demo/), or a research folder's, from its research.json."""
    from .report.summary import folder_summary
    from .research.demo import folder_lines

    def go():
        if (run_dir / "research.json").is_file():
            from .research.loop import load_result
            from .research.notebook import summary_lines

            lines = summary_lines(load_result(run_dir))
        else:
            lines = folder_summary(run_dir) + folder_lines(run_dir)  # a demo's research section too
        for line in lines:
            typer.echo(line)

    _guard(go)


@app.command()
def ship(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    dest: Path = typer.Argument(..., help="Where to copy its results, e.g. results/<config-name>/<run>."),
) -> None:
    """Copy a run's result files (metrics, units, config, provenance; each seed's too), not its models,
    to a folder that can be committed: `autoalign summary` and `autoalign endpoints` read them there."""
    from .runtime.ship import ship_run

    def go():
        files = ship_run(run_dir, dest)
        size = sum(f.stat().st_size for f in files)
        typer.echo(f"shipped {len(files)} files ({size / 1e6:.1f} MB) to {dest}")

    _guard(go)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run folder.")) -> None:
    """Rebuild a run's report.html from what the run wrote."""
    from .orchestration import write_report
    from .runtime.store import RunStore

    def go():
        if not (run_dir / "config.yaml").exists():
            raise UserError(f"{run_dir}: not a run folder (no config.yaml)")
        typer.echo(f"report: {write_report(RunStore(run_dir))}")

    _guard(go)


@app.command()
def preregister(
    config: Path = typer.Argument(..., help="Experiment config (YAML) whose endpoints to register."),
    seeds: Optional[str] = typer.Option(
        None, "--seeds", help="Seeds to run, e.g. 6,7,8,9,10 or 6-10 (default: seeds:)."
    ),
    replication: str = typer.Option(
        "second-attempt",
        "--replication",
        help="If more seeds are added later: pooled (one test over all) or second-attempt (alone, at half the alpha).",
    ),
    supersede: bool = typer.Option(
        False, "--supersede", help="Register fresh seeds; keep the old file as NAME.N.json."
    ),
    folder: Optional[Path] = typer.Option(
        None, "--dir", help="Where registrations live (default: preregistered/ at the root of autoalign's checkout)."
    ),
) -> None:
    """Write preregistered/CONFIG-NAME.json: endpoints, seeds, replication rule, science digest. Commit it
    before the runs: only runs whose commit holds a matching registration are confirmatory."""
    from .config import load_config
    from .preregistration import FOLDER, parse_seeds, preregister, seed_span, source_checkout

    def go():
        cfg = load_config(config)
        where = folder or (source_checkout() or Path.cwd()) / FOLDER
        path, entry = preregister(config, cfg, parse_seeds(seeds) if seeds else None, replication, where, supersede)
        typer.echo(
            f"wrote {path}: {len(entry['endpoints'])} endpoints, seeds {seed_span(entry['seeds'])}, attempt "
            f"{entry['attempt']} at alpha {entry['alpha']:g}, replication {entry['replication']}, "
            f"science digest {entry['science_digest']}"
        )
        keep = f" {where / entry['supersedes']['file']}" if entry["supersedes"] else ""
        typer.echo(f"commit it before any run:  git add {path}{keep} && git commit -m 'Pre-register {path.stem}'")
        typer.echo(
            f"then, from a clean tree:    autoalign run {config} --set seeds=[{','.join(map(str, entry['seeds']))}]"
        )

    _guard(go)


@app.command()
def endpoints(
    run_dirs: list[Path] = typer.Argument(..., help="Run folders (a fan-out's top folder pools its seeds)."),
    exploratory: bool = typer.Option(False, "--exploratory", help="Add the exploratory endpoints."),
) -> None:
    """Print one markdown table of the pre-registered endpoints of several runs; the last column says
    whether each run is confirmatory (its commit holds a matching registration) or exploratory, and why."""
    from .report.endpoints import endpoints_table

    def go():
        typer.echo(endpoints_table(run_dirs, exploratory))

    _guard(go)


@app.command("list")
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


@data_app.command("export")
def data_export(
    out: Path = typer.Argument(..., help="Output JSONL file."),
    n: int = typer.Option(100, min=1, help="Number of problems."),
    seed: int = typer.Option(0),
    min_steps: int = typer.Option(2, min=1, max=8),
    max_steps: int = typer.Option(5, min=1, max=8),
) -> None:
    """Write gold arithmetic-chain solutions in TRL's stepwise format (from the overseer split, so
    that no test prompt is ever exported as training data)."""
    from pydantic import ValidationError

    from .worlds import ArithmeticConfig, example_from_solution, make_world, write_stepwise_jsonl

    def go():
        try:
            wc = ArithmeticConfig(min_steps=min_steps, max_steps=max_steps)
        except ValidationError as e:
            raise UserError(f"--min-steps/--max-steps: {e.errors()[0]['msg']}") from None
        problems = make_world("arithmetic", wc).problems(seed, "overseer", n)
        write_stepwise_jsonl(out, [example_from_solution(p, p.solution) for p in problems])
        typer.echo(f"wrote {n} examples to {out}")

    _guard(go)


@data_app.command("check")
def data_check(path: Path = typer.Argument(..., help="A stepwise JSONL file.")) -> None:
    """Validate a stepwise JSONL file and summarise its labels."""
    from .worlds import read_stepwise_jsonl

    def go():
        examples = read_stepwise_jsonl(path)
        steps = sum(len(e.labels) for e in examples)
        good = sum(sum(e.labels) for e in examples)
        typer.echo(f"{path}: {len(examples)} examples, {steps} steps, {good / steps:.1%} labelled correct")

    _guard(go)


@app.command("serve")
def serve(
    target: str = typer.Argument(
        ...,
        help=(
            "A model folder, a run folder (serves its models/), or a local model's "
            "address (hf/, lab/ or a plugin provider's)."
        ),
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="Port to listen on (0: any free port)."),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", envvar="AUTOALIGN_API_KEY", help="Require Authorization: Bearer KEY (env AUTOALIGN_API_KEY)."
    ),
    model_name: Optional[str] = typer.Option(
        None, "--model-name", help="Model id to serve under; for a run folder, which model."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    dtype: str = typer.Option("float32", help="float32, bfloat16 or float16."),
) -> None:
    """Serve local models over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions)."""

    def go():
        from .serve.cli import serve as serve_models

        serve_models(target, host=host, port=port, api_key=api_key, model_name=model_name, device=device, dtype=dtype)

    _guard(go)


train_app = typer.Typer(no_args_is_help=True, help="Train a PRM or ORM on your own step labels (TRL stepwise JSONL).")
app.add_typer(train_app, name="train")


@train_app.command("prm")
def train_prm(
    data: Path = tv.DATA,
    model: str = tv.MODEL,
    out: Path = tv.OUT,
    eval_split: float = tv.EVAL_SPLIT,
    steps: int = tv.STEPS,
    pretrain_steps: Optional[int] = tv.PRETRAIN_STEPS,
    separator: str = tv.SEPARATOR,
    seed: int = tv.SEED,
    quiet: bool = QUIET,
) -> None:
    """Train a process reward model (a verdict per step); writes DIR/metrics.json and a TRL reward."""
    _guard(lambda: tv.train_command("prm", data, model, out, eval_split, steps, pretrain_steps, separator, seed, quiet))


@train_app.command("orm")
def train_orm(
    data: Path = tv.DATA,
    model: str = tv.MODEL,
    out: Path = tv.OUT,
    eval_split: float = tv.EVAL_SPLIT,
    steps: int = tv.STEPS,
    pretrain_steps: Optional[int] = tv.PRETRAIN_STEPS,
    separator: str = tv.SEPARATOR,
    seed: int = tv.SEED,
    quiet: bool = QUIET,
) -> None:
    """Train an outcome reward model (is the final answer right); writes DIR/metrics.json and a TRL reward."""
    _guard(lambda: tv.train_command("orm", data, model, out, eval_split, steps, pretrain_steps, separator, seed, quiet))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
