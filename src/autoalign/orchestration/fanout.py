"""Fan-out: one run per seed (and per sweep point) on an executor, then estimates pooled over seeds.

``seeds: [0, 1, 2, 3, 4]`` runs the config once per seed, each retraining every model, in sub-run
folders ``seed-K/`` (``SWEEP-LABEL/seed-K/`` with a sweep over listed values of any key). Each
sub-run is an ordinary run (resumable, with its own report); they execute on

- ``serial``: one after another, with all threads;
- ``process``: a local pool of processes, ``threads`` (default 2) divided among ``workers``
  (default: the cores) so that the total never exceeds ``threads`` (a last round with fewer tasks
  than workers shares all the threads: ``thread_plan``);
- ``ray``: Ray tasks (``pip install 'autoalign[ray]'``), a local Ray by default or the cluster at
  ``ray_address``; each task asks Ray for as many CPUs as it uses threads.

Pooling: every estimate in the sub-runs' metrics becomes the mean over seeds, with the per-seed
values beside it and a CI from a hierarchical bootstrap (seeds, then problems within each seed)
where the sub-runs recorded per-problem values, or over seeds alone where a statistic has no
per-problem values (AUROC, Elo). Other numbers are averaged over seeds; a value the seeds agree on
is kept; anything else (an estimate in one seed and none in another) is listed per seed, unpooled.

Pre-registered endpoints (``endpoints:``, see ``endpoints.py``) are judged over the seeds:
per-seed values, a one-sided t-test with its t-interval and Holm's correction within each family,
under ``endpoints`` in the pooled ``metrics.json`` (per sweep point with a sweep). Its ``provenance``
(``preregistration.py``) is the fan-out's own, with every seed's commit beside it.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import RunConfig, config_from_dict
from ..config_io import _set_dotted
from ..endpoints import evaluate_endpoints, without_endpoints
from ..errors import UserError
from ..measures import hierarchical_bootstrap, seed_bootstrap
from ..preregistration import START_FILE, fanout_provenance, without_provenance
from ..runtime.store import RunStore, atomic_write_json
from .report import write_report
from .runner import execute_single, open_run


@dataclass(frozen=True)
class Task:
    label: str  # sweep point ("" without a sweep)
    seed: int
    folder: str
    config: dict


def expand(cfg: RunConfig, run_dir: Path) -> list[Task]:
    """The sub-runs of a fanned-out config: sweep points x seeds."""
    base = cfg.model_dump(mode="json")
    for key in ("seeds", "sweep", "executor", "workers", "ray_address"):
        base.pop(key, None)
    seeds = cfg.seeds or [cfg.seed]
    sweep = cfg.sweep or {}
    keys = list(sweep)
    for k in keys:
        if not isinstance(sweep[k], list) or not sweep[k]:
            raise UserError(f"sweep.{k}: expected a non-empty list of values")
    tasks = []
    for values in itertools.product(*(sweep[k] for k in keys)):
        label = ",".join(f"{k}={v}" for k, v in zip(keys, values))
        for seed in seeds:
            data = json.loads(json.dumps(base))
            for k, v in zip(keys, values):
                _set_dotted(data, k, v)
            data["seed"] = seed
            config_from_dict(data, f"sweep point {label or 'base'}")  # a bad sweep value fails before any run
            folder = run_dir / (label.replace("/", "_") if label else "") / f"seed-{seed}"
            tasks.append(Task(label, seed, str(folder), data))
    return tasks


def run_task(folder: str, config: dict, threads: int, quiet: bool = False, config_file: str | None = None) -> dict:
    """One sub-run, start to finish (or resumed): what every executor calls."""
    import torch

    from ..runtime.context import shutdown_pools
    from ..runtime.progress import set_progress

    data = dict(config, threads=threads)
    cfg = config_from_dict(data, f"{folder}/config.yaml")
    torch.set_num_threads(threads)
    if quiet:  # runs side by side would interleave their progress bars
        set_progress(False)
    store, _ = open_run(cfg, folder, config_file=config_file)
    try:
        return execute_single(store, cfg)
    finally:
        shutdown_pools()


def _workers(cfg: RunConfig, n_tasks: int) -> int:
    return max(1, min(n_tasks, cfg.workers or os.cpu_count() or 1, cfg.threads))


def thread_plan(n_tasks: int, workers: int, threads: int) -> list[int]:
    """Threads per task, in start order, for a pool of ``workers``: ``threads // workers`` each, except
    that the last round, when it has fewer tasks than workers, shares all the threads among them
    (five seeds on two workers: 1, 1, 1, 1, 2), so that no core idles while the last seed runs alone.
    Tasks start in order, so the last round starts last; a round-mate still finishing overlaps it
    briefly."""
    per = max(1, threads // workers)
    plan = [per] * n_tasks
    tail = n_tasks % workers
    if tail and n_tasks > workers:
        plan[n_tasks - tail :] = [max(per, threads // tail)] * tail
    return plan


def run_tasks(cfg: RunConfig, tasks: list[Task], config_file: str | None = None) -> list[dict]:
    if cfg.executor == "serial":
        return [run_task(t.folder, t.config, cfg.threads, False, config_file) for t in tasks]
    workers = _workers(cfg, len(tasks))
    per = max(1, cfg.threads // workers)
    if cfg.executor == "process":
        from ..runtime.workers import pool as worker_pool

        with worker_pool(workers) as pool:
            return list(
                pool.map(
                    run_task,
                    [t.folder for t in tasks],
                    [t.config for t in tasks],
                    thread_plan(len(tasks), workers, cfg.threads),
                    [True] * len(tasks),
                    [config_file] * len(tasks),
                )
            )
    return _run_on_ray(cfg, tasks, per, config_file)


def _run_on_ray(cfg: RunConfig, tasks: list[Task], per: int, config_file: str | None) -> list[dict]:
    try:
        import ray
    except ImportError:
        raise UserError("executor ray needs Ray: pip install 'autoalign[ray]'") from None
    started = False
    if not ray.is_initialized():
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=cfg.threads, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=per)(run_task)
        return ray.get([remote.remote(t.folder, t.config, per, True, config_file) for t in tasks])
    finally:
        if started:
            ray.shutdown()


def _is_estimate(node) -> bool:
    return isinstance(node, dict) and {"mean", "ci_low", "ci_high"} <= set(node)


def pool_metrics(per_seed: list[dict], units: list[dict], seeds: list[int], n_resamples: int, seed: int = 0) -> dict:
    """One metrics tree: each estimate pooled over seeds (see the module docstring)."""

    def walk(nodes: list, path: str):
        first = nodes[0]
        if _is_estimate(first) and all(_is_estimate(n) for n in nodes):
            values = [float(n["mean"]) for n in nodes]
            unit_lists = [u.get(path) for u in units]
            if all(u is not None for u in unit_lists):
                est = hierarchical_bootstrap(unit_lists, n_resamples=n_resamples, seed=seed)
            else:
                est = seed_bootstrap(values, n_resamples=n_resamples, seed=seed)
            return {**est, "per_seed": values, "seeds": list(seeds)}
        if isinstance(first, dict) and all(isinstance(n, dict) for n in nodes):
            keys = [k for k in first if all(k in n for n in nodes)]
            return {k: walk([n[k] for n in nodes], f"{path}.{k}" if path else str(k)) for k in keys}
        if isinstance(first, list) and all(isinstance(n, list) and len(n) == len(first) for n in nodes):
            return [walk([n[i] for n in nodes], f"{path}.{i}") for i in range(len(first))]
        if all(n == first for n in nodes):
            return first
        if all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in nodes):
            return sum(nodes) / len(nodes)
        return {"per_seed": nodes, "seeds": list(seeds), "pooled": None}  # differs by seed: not pooled

    return walk(per_seed, "")


def _config_file(store: RunStore) -> str | None:
    """The config file the fan-out was started from, for its sub-runs' provenance."""
    try:
        return json.loads(store.file(START_FILE).read_text()).get("config_file")
    except (OSError, ValueError, AttributeError):
        return None


def execute_fanout(store: RunStore, cfg: RunConfig) -> dict:
    tasks = expand(cfg, store.path.resolve())  # absolute: Ray workers do not share our working directory
    store.event("fanout_started", tasks=len(tasks), executor=cfg.executor)
    run_tasks(cfg, tasks, _config_file(store))
    pooled: dict = {}
    labels = list(dict.fromkeys(t.label for t in tasks))
    for label in labels:
        group = [t for t in tasks if t.label == label]
        missing = [t.folder for t in group if not Path(t.folder, "metrics.json").exists()]
        if missing:
            raise UserError(
                f"{missing[0]}: the sub-run wrote no metrics.json (on a Ray cluster, the run folder "
                "must be on a file system every node shares)"
            )
        subs = [RunStore(t.folder) for t in group]
        per_seed = [without_provenance(without_endpoints(s.metrics)) for s in subs]  # each judged its seed alone
        units, seeds = [s.units for s in subs], [t.seed for t in group]
        tree = pool_metrics(per_seed, units, seeds, cfg.bootstrap_resamples, seed=cfg.seed)
        if cfg.endpoints:  # a t-test over the same per-seed values (endpoints.py)
            tree["endpoints"] = evaluate_endpoints(
                cfg.endpoints, per_seed, units, seeds, cfg.bootstrap_resamples, seed=cfg.seed
            )
        if label:
            pooled[label] = tree
        else:
            pooled = tree
    pooled["provenance"] = fanout_provenance(store.path, cfg, [RunStore(t.folder).metrics for t in tasks])
    atomic_write_json(store.file("metrics.json"), pooled, sort_keys=False)
    atomic_write_json(store.file("seeds.json"), cfg.seeds or [cfg.seed])
    if cfg.sweep:
        atomic_write_json(store.file("sweep.json"), labels)
    write_report(store)
    store.event("fanout_finished")
    return pooled
