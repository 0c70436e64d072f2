"""The research and results commands: research (the automated search), summary, ship (results to a
committable folder), preregister (a config's endpoints before its runs) and endpoints (the
pre-registered endpoints of several runs in one table, each run confirmatory or exploratory).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .common import QUIET, guard, setup


def research(
    config: Path = typer.Argument(..., help="Research config (YAML): target, search space, proposers, seeds."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set research.proposers.tpe=4"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Research folder (default runs/NAME-TIME)."),
    quiet: bool = QUIET,
) -> None:
    """Search a weak-to-strong method space with proposers (random, Optuna TPE, a language model), keep a proposal only if
    a seed-level test says it beats the incumbent, then score what was kept once on sealed test labels
    of fresh seeds. Writes notebook.jsonl, research.json, curve.png and research.html."""
    from ..research.config import load_research
    from ..research.loop import run_research
    from ..research.notebook import summary_lines

    setup(quiet, False)

    def go():
        research_file, _ = load_research(config, list(set_))  # a bad config fails before any folder exists
        folder = run_dir or Path("runs") / f"{research_file.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        result = run_research(config, folder, list(set_))
        if not quiet:
            for line in summary_lines(result):
                typer.echo(line)
            typer.echo(f"report: {folder / 'research.html'}")

    guard(go)


def summary(
    run_dir: Path = typer.Argument(..., help="A finished run folder, or a shipped copy of its metrics.json's folder."),
) -> None:
    """Print the summary a run printed when it ended, from its metrics.json (the README's demo figures
    are this command's output on results/demo/), or a research folder's, from its research.json."""
    from ..report.summary import folder_summary
    from ..research.demo import folder_lines

    def go():
        if (run_dir / "research.json").is_file():
            from ..research.loop import load_result
            from ..research.notebook import summary_lines

            lines = summary_lines(load_result(run_dir))
        else:
            lines = folder_summary(run_dir) + folder_lines(run_dir)  # a demo's research section too
        for line in lines:
            typer.echo(line)

    guard(go)


def ship(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    dest: Path = typer.Argument(..., help="Where to copy its results, e.g. results/<config-name>/<run>."),
) -> None:
    """Copy a run's result files (metrics, units, config, provenance; each seed's too), not its models,
    to a folder that can be committed: `autoalign summary` and `autoalign endpoints` read them there."""
    from ..runtime.ship import ship_run

    def go():
        files = ship_run(run_dir, dest)
        size = sum(f.stat().st_size for f in files)
        typer.echo(f"shipped {len(files)} files ({size / 1e6:.1f} MB) to {dest}")

    guard(go)


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
    from ..config import load_config
    from ..preregistration import FOLDER, parse_seeds, preregister, seed_span, source_checkout

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

    guard(go)


def endpoints(
    run_dirs: list[Path] = typer.Argument(..., help="Run folders (a fan-out's top folder pools its seeds)."),
    exploratory: bool = typer.Option(False, "--exploratory", help="Add the exploratory endpoints."),
) -> None:
    """Print one markdown table of the pre-registered endpoints of several runs; the last column says
    whether each run is confirmatory (its commit holds a matching registration) or exploratory, and why."""
    from ..report.endpoints import endpoints_table

    def go():
        typer.echo(endpoints_table(run_dirs, exploratory))

    guard(go)
