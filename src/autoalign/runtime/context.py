"""The run context a protocol works in: stages keyed by what they compute, run side by side.

A stage is a module-level function ``fn(ctx, *args)`` whose result is a small JSON value. Its
identity is a hash of its name, the function, its arguments (the config slice it reads and the
upstream results it builds on) and the code version, so a re-run reuses every stage whose inputs
are unchanged and recomputes every stage whose inputs changed; two protocols asking for the same
stage with the same inputs (the demo's generator) share one result. Each finished stage is its own
atomically written file, so stages can run side by side: ``ctx.side_by_side`` runs independent
stages in a pool of processes, dividing the run's threads among them so that the total never
exceeds the cores. The thread count of a stage depends only on the size of its group, so a run
gives the same numbers whether its stages ran together, apart, or after a crash. (Thread counts are
not part of a stage's key: the same stage computed with other threads, e.g. in a fan-out worker,
could differ in the last bits where a library splits a sum by thread, and the first one computed is
the one reused; ``scripts/check_threads.py`` found none on the CPU it ran on: README, "Package
versions and CPUs".)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel

from ..seeding import derive_seed, rng
from .placement import set_placement, set_provider_settings
from .store import RunStore

PRESENTATION = {"cli.py", "__main__.py", "report.py", "progress.py", "workers.py"}
PRESENTATION_FOLDERS = {"report", "orchestration", "cli"}


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the package's source, less what only presents results or decides where they are
    computed (the CLI, the report, progress bars, the runner and fan-out, how pool workers start): a stage computed by other
    code is computed again; a new plot reuses every stage."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in computing_sources(root):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def computing_sources(root: Path) -> list[Path]:
    """The package's source files that can change what a stage computes (``code_version`` hashes them)."""
    return [
        f
        for f in sorted(root.rglob("*.py"))
        if f.name not in PRESENTATION and not PRESENTATION_FOLDERS & set(f.relative_to(root).parts[:-1])
    ]


def canonical(obj: Any) -> Any:
    """A JSON-able form of a stage's arguments (config sections, results, numbers, strings)."""
    if isinstance(obj, BaseModel):
        return {"__model__": type(obj).__name__, **obj.model_dump(mode="json")}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__name__, **{k: canonical(v) for k, v in dataclasses.asdict(obj).items()}}
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"stage argument of type {type(obj).__name__} cannot be hashed; pass config or results")


def outside_source_digest(module: str) -> str:
    """A hash of a module's source when it lives outside autoalign (a plugin's stage function, method or
    overseer): part of a stage's key, so editing the plugin reruns its stages. Autoalign's own code is
    in every key already (``code_version``), so its modules give ""."""
    import inspect
    import sys

    if module.split(".")[0] == "autoalign":
        return ""
    try:
        return hashlib.sha256(Path(inspect.getsourcefile(sys.modules[module])).read_bytes()).hexdigest()[:16]
    except (TypeError, OSError, KeyError):
        return ""


def stage_key(name: str, fn: Callable, args: tuple, seed: int, resamples: int, code: str) -> str:
    blob = json.dumps(
        [
            name,
            f"{fn.__module__}.{fn.__qualname__}",
            canonical(list(args)),
            seed,
            resamples,
            code,
            outside_source_digest(fn.__module__),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def content_digest(path: str | Path) -> str:
    """A hash of a file's or folder's contents: pass it to a stage that reads the path, so that a file
    edited in place is a new input (a path alone would let the old result be reused)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:16]


@dataclass
class RunContext:
    """What a protocol needs from the runtime. Picklable, so stages can run in other processes."""

    run_dir: str
    seed: int
    threads: int = 2
    bootstrap_resamples: int = 2000
    current: tuple[str, str] | None = field(default=None)  # (stage name, key) while a stage runs
    code: str = field(default_factory=code_version)  # fixed when the run starts; workers inherit it
    device: str = "cpu"  # where local models run; like threads, not part of a stage's key
    dtype: str = "float32"
    providers: dict[str, dict] = field(default_factory=dict)  # each provider's settings (``providers:``)
    autocast: str = "off"  # resolved (models.device.resolve_autocast): off, bf16 or bf16-wide; part of the key
    compile: str = "off"  # training forwards through torch.compile (off or on): other float order, part of the key

    def key(self, name: str, fn: Callable, args: tuple) -> str:
        extra = () if self.dtype == "float32" else (self.dtype,)
        extra += () if self.autocast == "off" else (f"autocast={self.autocast}",)
        extra += () if self.compile == "off" else (f"compile={self.compile}",)
        return stage_key(name, fn, args + extra, self.seed, self.bootstrap_resamples, self.code)

    def use_models(self) -> None:
        """Point model loading in this process at the run's device, dtype, autocast and compile, and each provider
        at its settings (``placement.py``: read by ``models/``, which the kernel does not import)."""
        set_placement(self.device, self.dtype, self.autocast, self.compile)
        set_provider_settings(self.providers)

    @property
    def store(self) -> RunStore:
        return RunStore(self.run_dir)

    def file(self, *parts: str) -> Path:
        return Path(self.run_dir).joinpath(*parts)

    def event(self, kind: str, **fields) -> None:
        self.store.event(kind, **fields)

    # -- seeds and CIs -------------------------------------------------------------------------
    def rng(self, *tags):
        return rng(self.seed, *tags)

    def derive(self, *tags) -> int:
        return derive_seed(self.seed, *tags)

    @property
    def boot(self) -> dict:
        return {"n_resamples": self.bootstrap_resamples, "seed": self.seed}

    def artifact(self, stem: str) -> str:
        """A path (relative to the run) for a file or folder of the stage now running, unique to
        its inputs: two stages of one name with different inputs never overwrite each other."""
        if self.current is None:
            return stem
        return f"{stem}-{self.current[1][:8]}"

    # -- stages ------------------------------------------------------------------------------
    def stage(self, name: str, fn: Callable, *args) -> Any:
        """Run ``fn(ctx, *args)`` unless a stage of this name and these inputs already finished."""
        key = self.key(name, fn, args)
        store = self.store
        done = store.stage_record(name, key)
        if done is not None:
            store.event("stage_skipped", stage=name, key=key[:16])
            return done["result"]
        store.event("stage_started", stage=name, key=key[:16])
        t0 = time.time()
        result = fn(dataclasses.replace(self, current=(name, key)), *args)
        seconds = round(time.time() - t0, 3)
        json.dumps(result)  # a stage's result must be JSON: fail here, not at resume
        store.record_stage(name, key, result, seconds)
        store.event("stage_finished", stage=name, key=key[:16], seconds=seconds)
        return result

    def side_by_side(self, calls: list[tuple[str, Callable, tuple]]) -> list[Any]:
        """Run independent stages ``(name, fn, args)`` at once, in groups of at most ``threads``,
        each with ``threads // group size`` threads; finished ones are reused. Results in order."""
        if len(calls) > self.threads:
            return [
                r for k in range(0, len(calls), self.threads) for r in self.side_by_side(calls[k : k + self.threads])
            ]
        per = max(1, self.threads // max(1, len(calls)))
        todo = [
            i
            for i, (name, fn, args) in enumerate(calls)
            if self.store.stage_record(name, self.key(name, fn, args)) is None
        ]
        if len(todo) > 1 and per * len(calls) <= self.threads:
            futures = [_pool(self.threads).submit(_stage_in_worker, self, per, *calls[i]) for i in todo]
            for f in futures:
                f.result()
        else:
            for i in todo:
                _stage_with_threads(self, per, *calls[i])
        return [self.stage(name, fn, *args) for name, fn, args in calls]


_POOLS: dict = {}


def _pool(workers: int):
    """One pool of workers per process, kept for the whole run: starting a worker costs a fork (or,
    spawned, seconds of importing torch and transformers: runtime/workers.py), which every side-by-side
    group would otherwise pay again."""
    import atexit

    from .workers import pool as worker_pool

    pool = _POOLS.get(workers)
    if pool is None or getattr(pool, "_broken", False):  # a worker that died (killed) breaks its pool
        pool = worker_pool(workers)
        _POOLS[workers] = pool
        atexit.register(pool.shutdown, wait=False, cancel_futures=True)
    return pool


def shutdown_pools() -> None:
    """Stop this process's stage workers (a fan-out worker must, or its own exit waits on them)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def _stage_with_threads(ctx: RunContext, threads: int, name: str, fn: Callable, args: tuple) -> Any:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    ctx.use_models()
    try:
        return ctx.stage(name, fn, *args)
    finally:
        torch.set_num_threads(before)


def _stage_in_worker(ctx: RunContext, threads: int, name: str, fn: Callable, args: tuple) -> None:
    from ..errors import UserError
    from .progress import set_progress

    if code_version() != ctx.code:
        raise UserError("autoalign's code changed while the run was going; resume it with --resume")
    set_progress(False)
    _stage_with_threads(ctx, threads, name, fn, args)
