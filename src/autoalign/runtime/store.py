"""The run store: one folder per run, atomic writes, and stages that are done at most once.

A run is a sequence of named stages. When a stage finishes, its result (a small JSON value) is
recorded in ``stages.json``; a resumed run returns recorded results instead of running the stage
again. Every file is written to a temporary name in the same folder and renamed over the target,
so a run killed at any moment leaves either the old file or the new one, never half of one.

Layout::

    RUN_DIR/config.yaml  metrics.json  events.jsonl  stages.json  report.html
            models/  samples/  plots/
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

SUBDIRS = ("models", "samples", "plots")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, sort_keys: bool = True) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=sort_keys) + "\n")


def write_jsonl(path: str | Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def atomic_save_dir(target: str | Path, save: Callable[[Path], None]) -> None:
    """Save a folder (e.g. ``save_pretrained``) into a temporary sibling, then swap it in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save(tmp)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old.{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(target.parent)


class RunStore:
    """A run folder. Stages run at most once; metrics merge into ``metrics.json``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for d in SUBDIRS:
            (self.path / d).mkdir(exist_ok=True)

    # -- files ------------------------------------------------------------------------------
    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def _read_json(self, name: str) -> dict:
        p = self.path / name
        return json.loads(p.read_text()) if p.exists() else {}

    @property
    def metrics(self) -> dict:
        return self._read_json("metrics.json")

    def update_metrics(self, updates: dict) -> dict:
        metrics = self.metrics
        metrics.update(updates)
        atomic_write_json(self.path / "metrics.json", metrics)
        return metrics

    def event(self, kind: str, **fields: Any) -> None:
        """Append one line to ``events.jsonl`` (a single small write: whole or absent)."""
        line = json.dumps({"time": round(time.time(), 3), "event": kind, **fields}) + "\n"
        with open(self.path / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    # -- stages -----------------------------------------------------------------------------
    @property
    def finished_stages(self) -> dict:
        return self._read_json("stages.json")

    def is_done(self, name: str) -> bool:
        return name in self.finished_stages

    def stage(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` unless stage ``name`` already finished; return its (JSON) result."""
        done = self.finished_stages
        if name in done:
            self.event("stage_skipped", stage=name)
            return done[name]["result"]
        self.event("stage_started", stage=name)
        t0 = time.time()
        result = fn()
        seconds = round(time.time() - t0, 3)
        done = self.finished_stages
        done[name] = {"result": result, "seconds": seconds}
        atomic_write_json(self.path / "stages.json", done, sort_keys=False)  # keep run order
        self.event("stage_finished", stage=name, seconds=seconds)
        return result
