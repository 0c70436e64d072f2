"""One worker thread that runs all of the server's model work, fed by a queue.

HTTP handlers run on the event loop and must not block it; torch must not run two forward passes
at once on one model (nor fight over the CPU's cores). So handlers submit *jobs* and await their
futures, and this thread runs jobs one batch at a time: requests are queued, never dropped.

Batching: a job carries a ``key``; queued jobs with the same key (same model, kind of work,
temperature, token budget) run as one call over all their items, up to ``max_batch`` items, the
oldest job always first. A job whose key is None (sampling with an explicit seed, whose result
must not depend on what else was queued) runs alone. If a merged batch fails, each of its jobs is
retried alone, so one bad request cannot fail the requests it was batched with.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class Job:
    key: Hashable | None  # jobs with equal, non-None keys may run as one batch
    items: list
    run: Callable[[list], list]  # items -> one result (or exception) per item, on the worker thread
    future: Future = field(default_factory=Future)


class Engine:
    """The queue and its worker thread. ``submit`` is thread-safe; ``stop`` finishes queued work first."""

    def __init__(self, max_batch: int = 64):
        self.max_batch = max(1, int(max_batch))
        self._queue: queue.Queue = queue.Queue()
        self._pending: collections.deque[Job] = collections.deque()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches_run = 0  # how many calls ran (tests and logs read it)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="autoalign-serve-worker", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def submit(self, key: Hashable | None, items: list, run: Callable[[list], list]) -> Future:
        self.start()
        job = Job(key, list(items), run)
        self._queue.put(job)
        return job.future

    def _take(self) -> list[Job] | None:
        """The next batch: the oldest job and the queued jobs that share its key. None: stop."""
        stopping = False
        if not self._pending:
            job = self._queue.get()
            if job is None:
                return None
            self._pending.append(job)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stopping = True
            else:
                self._pending.append(job)
        if stopping:
            self._queue.put(None)  # handled after the jobs already queued
        first = self._pending.popleft()
        batch, size = [first], len(first.items)
        if first.key is not None:
            for job in list(self._pending):
                if job.key == first.key and size + len(job.items) <= self.max_batch:
                    self._pending.remove(job)
                    batch.append(job)
                    size += len(job.items)
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]  # skip cancelled ones
            if live:
                self._execute(live)

    def _execute(self, jobs: list[Job]) -> None:
        try:
            self.batches_run += 1
            results = jobs[0].run([item for job in jobs for item in job.items])
            if len(results) != sum(len(job.items) for job in jobs):
                raise RuntimeError(f"a batch returned {len(results)} results for its items")
        except Exception as exc:  # noqa: BLE001 - reported to the request(s), the worker goes on
            if len(jobs) > 1:
                for job in jobs:
                    self._execute([job])
            else:
                jobs[0].future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            mine, start = results[start : start + len(job.items)], start + len(job.items)
            failed = next((r for r in mine if isinstance(r, BaseException)), None)
            if failed is not None:
                job.future.set_exception(failed)
            else:
                job.future.set_result(mine)
