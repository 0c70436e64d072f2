"""Worker processes for a run's pools (stages side by side, seeds fanned out, research evaluations),
forked on Linux from a server that has imported torch and transformers once.

Why: a spawned worker imports torch and transformers afresh, 3 to 4 s of a core each
(``bench/bench_worker_start.py``). Python's fork server imports the libraries once per process and
forks each worker from that state: a process's later pools start in a tenth of a second. Only on
Linux: on macOS a library import in the server touches Metal (transformers asks whether MPS exists),
and a process forked after that has its MPS random generator left unseeded by ``torch.manual_seed``,
so workers there are spawned, as they are everywhere with ``AUTOALIGN_WORKER_START=spawn``.

What a forked worker shares with the server, and how it is kept to what a spawned one would see:

- code: the server imports libraries only, never autoalign, so each worker imports the package
  afresh from disk and never runs older code than ``code_version`` hashes (a stage worker checks it);
- the environment: a forked worker would inherit the server's, from when it started; :func:`pool`
  hands each worker this process's environment as of the pool's making, as spawn does. What libraries
  read from the environment while they were imported (Hugging Face's hub settings, torch's logging,
  OpenMP's) is fixed in the server, so a pool made after any such variable changed is spawned instead
  (:data:`IMPORT_TIME_PREFIXES`);
- threads: the server has run nothing but imports (one thread, no OpenMP pool started), and every
  pool sets its workers' thread count.

The server is started when a pool is made, so one that cannot start (its socket, its process) means
spawned workers rather than a pool that breaks at its first task. A worker forked from the server that
makes a pool of its own (a seed worker's stage pool) starts its
own server, from a fresh interpreter: that first pool costs what a spawned one does.
"""

from __future__ import annotations

import os
import sys
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
# Variables the preloaded libraries (or the interpreter) read when imported, not when used.
IMPORT_TIME_PREFIXES = ("HF_", "HUGGINGFACE", "TRANSFORMERS", "TORCH", "PYTORCH", "OMP_", "GOMP_", "KMP_", "MKL_")
IMPORT_TIME_PREFIXES += ("CUDA_", "PYTHON")
_server_environment: dict | None = None  # the import-time variables when this process's fork server started


def start_method() -> str:
    """``forkserver`` on Linux, ``spawn`` elsewhere; ``AUTOALIGN_WORKER_START`` overrides."""
    import multiprocessing as mp

    chosen = os.environ.get(ENV, "").strip()
    if chosen and chosen not in METHODS:
        raise UserError(f"{ENV}={chosen!r}: expected one of {', '.join(METHODS)}")
    available = mp.get_all_start_methods()
    if chosen:
        if chosen not in available:
            raise UserError(f"{ENV}={chosen}: this platform starts processes by {', '.join(available)} only")
        return chosen
    return "forkserver" if sys.platform.startswith("linux") and "forkserver" in available else "spawn"


def import_time_environment() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith(IMPORT_TIME_PREFIXES)}


def context():
    """The multiprocessing context a pool made now uses: the fork server (which preloads
    :data:`PRELOAD` when it starts), or spawn where the server's import-time environment is not this
    process's any more."""
    import multiprocessing as mp

    global _server_environment
    method = start_method()
    if method == "forkserver":
        now = import_time_environment()
        if _server_environment is None:
            _server_environment = now
        elif now != _server_environment:
            method = "spawn"  # the server imported its libraries under other settings
    if method == "forkserver":
        from multiprocessing import forkserver

        mp.get_context(method).set_forkserver_preload(list(PRELOAD))  # a library not installed is skipped
        try:
            forkserver.ensure_running()  # now, so that a server that cannot start means spawn, not a broken pool
        except OSError:
            method = "spawn"
    return mp.get_context(method)


def _start(environ: dict, initializer: Callable | None, initargs: tuple) -> None:
    os.environ.clear()
    os.environ.update(environ)
    if initializer is not None:
        initializer(*initargs)


def pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()):
    """A ``ProcessPoolExecutor`` of ``workers`` on :func:`context`, each worker given this process's
    environment as of now, then ``initializer(*initargs)``."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context(),
        initializer=_start,
        initargs=(dict(os.environ), initializer, initargs),
    )
