"""Progress bars for long steps (Rich), silenced with ``--quiet`` or when nobody is watching."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

_state = {"enabled": True}
console = Console(stderr=True)


def set_progress(enabled: bool) -> None:
    _state["enabled"] = enabled


class _Bar:
    def __init__(self, progress: Progress | None, task):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **fields)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None):
    if not _state["enabled"] or not sys.stderr.isatty():
        yield _Bar(None, None)
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    ]
    with Progress(*columns, console=console, transient=False) as p:
        task = p.add_task(description, total=total, info="")
        yield _Bar(p, task)


def log(message: str) -> None:
    if _state["enabled"]:
        console.print(message)
