"""Worker processes for a run's pools (stages side by side, seeds fanned out, research evaluations),
forked from a server that has imported torch and transformers once.

Why: a spawned worker imports torch and transformers afresh, 3 to 4 s of a core each
(``bench/bench_worker_start.py``). A run starts its stage pool once, but fan-outs start a pool per
run and a stage pool in each seed's worker, and the test suite starts dozens. Python's fork server
imports the libraries once per process and forks each worker from that state (Linux and macOS;
elsewhere, or with ``AUTOALIGN_WORKER_START=spawn``, workers are spawned as before).

What a worker sees is what a spawned one saw:

- the fork server imports libraries only, never autoalign: each worker imports the package afresh
  from disk, so it never runs older code than ``code_version`` hashes (a stage worker checks that);
- a forked worker would inherit the environment the fork server started with, not the parent's of
  the moment: :func:`pool` hands each worker the parent's environment when the pool is made;
- the fork server has run nothing but imports (one thread, no OpenMP pool started), so a forked
  worker starts its own threads as a spawned one does, and each pool sets its workers' thread count.
"""

from __future__ import annotations

import os
from typing import Callable

from ..errors import UserError

PRELOAD = (
    "torch",
    "transformers",
    "transformers.models.llama.modeling_llama",
    "transformers.models.gpt2.modeling_gpt2",
)
ENV = "AUTOALIGN_WORKER_START"
METHODS = ("forkserver", "spawn")


def start_method() -> str:
    """``forkserver`` where the platform has it, else ``spawn``; ``AUTOALIGN_WORKER_START`` overrides."""
    import multiprocessing as mp

    chosen = os.environ.get(ENV, "").strip()
    if chosen and chosen not in METHODS:
        raise UserError(f"{ENV}={chosen!r}: expected one of {', '.join(METHODS)}")
    available = mp.get_all_start_methods()
    if chosen:
        if chosen not in available:
            raise UserError(f"{ENV}={chosen}: this platform starts processes by {', '.join(available)} only")
        return chosen
    return "forkserver" if "forkserver" in available else "spawn"


def context():
    """The multiprocessing context pools use (the fork server preloads :data:`PRELOAD` when it starts)."""
    import multiprocessing as mp

    method = start_method()
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))  # a library that is not installed is skipped
    return ctx


def _start(environ: dict, initializer: Callable | None, initargs: tuple) -> None:
    os.environ.clear()
    os.environ.update(environ)
    if initializer is not None:
        initializer(*initargs)


def pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()):
    """A ``ProcessPoolExecutor`` of ``workers`` on :func:`context`, each worker given this process's
    environment of now, then ``initializer(*initargs)``."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context(),
        initializer=_start,
        initargs=(dict(os.environ), initializer, initargs),
    )
