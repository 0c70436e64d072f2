"""The run store: one folder per run, atomic writes, one file per finished stage.

A run is a set of named stages, each keyed by a hash of what it computes (see ``context.py``); a
finished stage's result is its own file under ``stages/``, so a resumed run reuses it and stages
running side by side never write the same file. Every file is written to a temporary name in the
same folder and renamed over the target, so a run killed at any moment leaves either the old file
or the new one, never half of one.

Layout::

    RUN_DIR/config.yaml  metrics.json  units.json  events.jsonl  report.html
            stages/  results/  models/  samples/  plots/  (seed-K/ sub-runs when fanned out)
"""

from __future__ import annotations

import json
import os
import re
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


def _canonical_metrics_file(results_dir: Path) -> dict:
    out = {}
    for f in sorted(results_dir.glob("*.json"), key=lambda f: (f.stat().st_mtime_ns, f.name)):  # run order
        out[f.stem] = json.loads(f.read_text())
    return out


def split_units(tree: Any, prefix: str = "") -> tuple[Any, dict[str, list[float]]]:
    """Take the per-unit values (``_units``) out of every estimate in ``tree``: metrics.json stays
    small and readable, and the units go to ``units.json`` for the hierarchical bootstrap over seeds."""
    units: dict[str, list[float]] = {}
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if k == "_units":
                units[prefix.rstrip(".")] = v
                continue
            out[k], sub = split_units(v, f"{prefix}{k}.")
            units.update(sub)
        return out, units
    if isinstance(tree, list):
        out_list = []
        for i, v in enumerate(tree):
            o, sub = split_units(v, f"{prefix}{i}.")
            out_list.append(o)
            units.update(sub)
        return out_list, units
    return tree, units


class RunStore:
    """A run folder. Each finished stage is its own file under ``stages/``; each protocol's results
    are their own file under ``results/``; ``metrics.json`` is their union, namespaced by protocol."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        for d in SUBDIRS + ("stages", "results"):
            (self.path / d).mkdir(exist_ok=True)

    # -- files ------------------------------------------------------------------------------
    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def _read_json(self, name: str) -> dict:
        from ..jsonl_io import read_json_file

        p = self.path / name
        return read_json_file(p) if p.exists() else {}

    @property
    def metrics(self) -> dict:
        return self._read_json("metrics.json")

    @property
    def units(self) -> dict:
        return self._read_json("units.json")

    def write_results(self, namespace: str, results: dict) -> dict:
        """Record one protocol's results; rebuild ``metrics.json`` and ``units.json`` from all of them
        (under a lock, so protocols or runs finishing side by side never lose each other's results)."""
        import fcntl

        clean, units = split_units(results)
        atomic_write_json(self.path / "results" / f"{namespace}.json", clean, sort_keys=False)
        atomic_write_json(self.path / "results" / f"{namespace}.units", units)
        with open(self.path / ".metrics.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            metrics = _canonical_metrics_file(self.path / "results")
            all_units = {}
            for f in sorted((self.path / "results").glob("*.units")):
                all_units.update({f"{f.stem}.{k}": v for k, v in json.loads(f.read_text()).items()})
            atomic_write_json(self.path / "metrics.json", metrics, sort_keys=False)  # protocols' own order
            atomic_write_json(self.path / "units.json", all_units)
        return metrics

    def event(self, kind: str, **fields: Any) -> None:
        """Append one line to ``events.jsonl`` (a single small write: whole or absent)."""
        line = json.dumps({"time": round(time.time(), 3), "event": kind, **fields}) + "\n"
        with open(self.path / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    # -- stages -----------------------------------------------------------------------------
    def stage_file(self, name: str, key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)  # a name may hold a model address (hf/...)
        return self.path / "stages" / f"{safe}.{key[:16]}.json"

    def stage_record(self, name: str, key: str) -> dict | None:
        p = self.stage_file(name, key)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # a damaged record: the stage runs again

    def record_stage(self, name: str, key: str, result: Any, seconds: float) -> None:
        atomic_write_json(
            self.stage_file(name, key),
            {"name": name, "key": key, "result": result, "seconds": seconds, "finished": time.time()},
        )

    @property
    def finished_stages(self) -> dict:
        """Every finished stage by name (the latest of a name), in the order they finished."""
        records = []
        for f in (self.path / "stages").glob("*.json"):
            try:
                records.append(json.loads(f.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
        records.sort(key=lambda r: r.get("finished", 0))
        return {r["name"]: r for r in records}
