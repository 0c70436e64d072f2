"""What every ``autoalign`` command shares: the --quiet and --json options, the one-line error exit,
progress on or off, the end-of-run summary, and the guard that turns a user's mistake into one line.

A user's mistake (bad YAML, an unknown key, a bad flag, a broken JSONL line) ends with one line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json

import typer

from ..errors import UserError

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or log lines.")
JSON = typer.Option(False, "--json", help="Print the run's metrics as JSON on stdout.")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def setup(quiet: bool, as_json: bool) -> None:
    from ..runtime.progress import set_progress

    set_progress(not (quiet or as_json))


def finish(store, metrics: dict, as_json: bool, quiet: bool, **more) -> None:
    from ..report.summary import summary_lines

    if as_json:  # ``more``: the demo's research result
        typer.echo(json.dumps({"run_dir": str(store.path), "metrics": metrics, **more}, indent=2))
        return
    if quiet:
        return
    seeds = json.loads(store.file("seeds.json").read_text()) if store.file("seeds.json").exists() else None
    for line in summary_lines(metrics, seeds, sweep=store.file("sweep.json").exists()):
        typer.echo(line)
    typer.echo(f"report: {store.file('report.html')}")


def guard(fn):
    """Turn user errors into one line and Ctrl-C into a resumable stop."""
    try:
        return fn()
    except UserError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted; finished stages are kept: resume with `autoalign run --resume RUN_DIR`", 130)
