"""The ``autoalign`` command line: every command on one Typer app (the ``autoalign`` script's entry point).

The commands live by topic in this package (``runs``, ``science``, ``tools``; what they share in
``common``); here they are put on one Typer app, in the order that ``autoalign --help`` lists them.
A user's mistake (bad YAML, an unknown key, a bad flag, a broken JSONL line) ends with one line
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import typer

from .runs import demo, list_runs, report, run
from .science import endpoints, preregister, research, ship, summary
from .tools import data_app, serve, train_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="autoalign: an automated alignment lab.",
)
app.add_typer(data_app, name="data")
for command in (run, demo, research, summary, ship, report, preregister, endpoints):
    app.command()(command)
app.command("list")(list_runs)
app.command("serve")(serve)
app.add_typer(train_app, name="train")


def main() -> None:  # pragma: no cover
    app()
