"""Where the research loop's evaluations run: the unit of work is one evaluation, a set of methods
(one proposal's options, or the sealed test's methods) on one seed (``evaluate.evaluate``).

``Evaluator.run_many`` takes several groups (seeds, methods, canaries) and submits every (group,
seed) evaluation at once; the results come back grouped, in the groups' order and each group's seed
order. The run's ``threads`` are divided among ``workers`` evaluations at once, on

- ``process`` (``research.executor``, the default): a local pool of ``workers`` processes, or this
  process itself when ``workers`` is 1;
- ``ray``: Ray tasks (``pip install 'autoalign[ray]'``), each asking Ray for as many CPUs as it uses
  threads, on a local Ray of ``workers`` tasks at once started here (and shut down by ``close``), or
  on the cluster at ``research.ray_address``, as many at once as its CPUs allow (its nodes must
  share the run folder's file system and have autoalign installed).

Evaluations on the same seed share that seed's folder, and its stages are written atomically, so two
proposals may run on one seed at once; the loop runs the baseline (which builds every stage the
proposals share: pretrained models, the weak supervisor, the ceiling) before any proposal, so that
proposals running side by side each train only their own student. ``evaluate`` is injectable (a
function Ray can pickle: one importable by module, or one cloudpickle ships by value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..runtime.workers import pool as worker_pool
from .evaluate import evaluate as evaluate_one

Job = tuple[list[int], dict, bool]  # (seeds, methods {name: options}, canaries)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class Evaluator:
    """Runs ``evaluate`` on (methods, seed) evaluations, ``workers`` at once on ``executor``."""

    def __init__(
        self,
        root: Path,
        base_data: dict,
        pair: tuple,
        workers: int,
        threads: int,
        executor: str = "process",
        ray_address: str | None = None,
        evaluate: Callable[..., dict] = evaluate_one,
    ):
        self.root, self.base, self.pair, self.workers = str(root), base_data, list(pair), workers
        self.threads = max(1, threads // workers)
        self.evaluate, self.executor = evaluate, executor
        self.pool, self.remote, self.ray_started = None, None, False
        if executor == "ray":
            self._start_ray(ray_address)
        elif workers > 1:
            self.pool = worker_pool(workers, initializer=_init_worker, initargs=(self.threads,))

    def _start_ray(self, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise UserError("research.executor ray needs Ray: pip install 'autoalign[ray]'") from None
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers * self.threads, include_dashboard=False, log_to_driver=False)
            self.ray_started = True
        self.remote = ray.remote(num_cpus=self.threads)(self.evaluate)

    def run_many(self, jobs: list[Job]) -> list[list[dict]]:
        """Every seed of every job at once; one list of results per job, in the seeds' order."""
        calls = [
            (self.root, self.base, seed, self.pair, methods, canaries, self.threads)
            for seeds, methods, canaries in jobs
            for seed in seeds
        ]
        if not calls:
            flat = []
        elif self.remote is not None:
            import ray

            flat = ray.get([self.remote.remote(*c) for c in calls])
        elif self.pool is not None:
            futures = [self.pool.submit(self.evaluate, *c) for c in calls]
            flat = [f.result() for f in futures]
        else:
            flat = [self.evaluate(*c) for c in calls]
        out, start = [], 0
        for seeds, _, _ in jobs:
            out.append(flat[start : start + len(seeds)])
            start += len(seeds)
        return out

    def run(self, seeds: list[int], methods: dict, canaries: bool = False) -> list[dict]:
        return self.run_many([(seeds, methods, canaries)])[0]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.ray_started:
            import ray

            ray.shutdown()
            self.ray_started = False
        self.remote = None
