"""Method code proposals, run behind the evaluation boundary (``research.boundary: true``).

A language model may propose a new method as a Python file (``boundary/jail.py``: ``train(
strong_model_dir, transfer_path, out_dir, seed)``). Such code never runs in the loop's process: on
each seed it runs in the sandbox's jail with only that seed's strong model and transfer texts with
the weak supervisor's P(label = 1) (``jail_inputs``: the weak-to-strong stages the baseline already
built on that seed), and the student it returns is scored by the evaluation server, the one process
holding the labels (``boundary/server.py``): on the validation split for a search seed, on the sealed
test split, once per method and seed, for a fresh test seed.

The server's accuracy becomes PGR with the weak supervisor's and the ceiling's accuracy on the same
items, from the seed's evaluation of the baseline (``evaluate.py``; a seed under the gap guard has no
PGR for any method). A seed's record has the shape of ``evaluate``'s, the code's scores in the
searched slot (``tunable``), so the gate and the notebook treat a code proposal as any other, plus
``jail``: the sandbox's stop reason and the method's output. A jail that stops the code (a limit, an
exception, no student) or a student the server cannot read is a failed seed, with its one-line why; a
student the server flags (degenerate verdicts) has its flags and no PGR on that seed.

Several codes run at once (``run_many``): ``research.workers`` jails at once, each a process of its
own waited on by a thread of the loop's process (the jail is bubblewrap on this machine, whatever the
executor of the option evaluations), the run's threads divided among them; a batch's code proposals
run together after its option proposals.

A finished seed's record is kept (``students/<code digest>/<split>-<seed>.json``), so a resumed search
reuses it. One server per research run: :class:`CodeRunner` starts it when a method first returns a
student (a search whose code all fails, or that has none, never starts it) and ``close`` stops it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import config_from_dict
from ..runtime.store import atomic_write_json, atomic_write_text
from . import task_canaries
from .boundary.client import EvaluationServer, Refused
from .boundary.jail import METHOD_LIMITS, run_method
from .boundary.server import ServerSpec
from .boundary.student import STUDENT_FILE
from .evaluate import seed_config, seed_context, target_section

LIMITS = METHOD_LIMITS  # what each method run may use (tests shrink it)
SLOT = "tunable"  # where a record holds the searched method's scores (the loop's, the notebook's)
OUTPUT_CHARS = 2000  # of a method's output, kept in its record
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")  # not copied where only the architecture is needed


def digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:12]


def jail_inputs(root: str, base_data: dict, seed: int, pair: list, threads: int) -> dict:
    """``{"strong", "texts", "weak_labels"}`` of ``seed``: the protocol's own stages in the seed's
    folder under ``root`` (built by the baseline's evaluation; reused, not retrained)."""
    import torch

    from ..protocols.weak_to_strong import boundary_inputs

    torch.set_num_threads(threads)
    cfg = seed_config(config_from_dict({**base_data, "threads": threads}, "research target"), seed)
    ctx = seed_context(Path(root), cfg)
    return boundary_inputs(ctx, target_section(cfg, pair, {}), tuple(pair))


def server_spec(folder: Path, root: str, base_data: dict, splits: dict, budget: int, strong: dict, threads: int):
    """The evaluation server of a research run: labels of the search seeds' validation items and the
    test seeds' sealed items, built in its own process from the world (``boundary/sources.py``);
    ``strong``: seed -> the folder the runner stages that seed's strong model's config and tokenizer in
    (the student's architecture) before the server is asked about it."""
    return ServerSpec(
        root=str(folder / "server"),
        students=str(folder / "students"),
        splits=splits,
        test_budget=budget,
        strong=strong,
        source={"kind": "weak_to_strong", "root": root, "config": base_data},
        threads=threads,
    )


def one_line(text: str, limit: int = 200) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:limit]


def pgr(accuracy: float, reference: dict) -> float | None:
    """PGR of a student with this accuracy, on the seed of ``reference`` (the baseline's record)."""
    if reference["guard"]:
        return None
    return (accuracy - reference["weak"]) / (reference["ceiling"] - reference["weak"])


class CodeRunner:
    """Runs method code on seeds in the jail and has the evaluation server score what it returns."""

    def __init__(self, run_dir: Path, base_data: dict, pair: list, r, threads: int):
        self.folder = Path(run_dir) / "boundary"
        self.root, self.base, self.pair = str(Path(run_dir) / "search"), base_data, list(pair)
        self.workers = r.workers  # jails at once; the run's threads divided among them
        self.threads = max(1, threads // r.workers)
        self._lock = threading.Lock()  # the server's start, the seed's inputs and staged architecture
        splits = {"validation": list(r.search_seeds), "test": list(r.test_seeds)}
        # each proposer's final method and each task canary, once per test seed
        budget = (len(r.proposers) + len(task_canaries.CANARIES)) * len(r.test_seeds)
        self.strong = {seed: self.folder / "strong" / f"seed-{seed}" for seeds in splits.values() for seed in seeds}
        strong = {seed: str(path) for seed, path in self.strong.items()}
        spec = server_spec(self.folder, self.root, base_data, splits, budget, strong, threads)
        self.students = Path(spec.students)
        self.students.mkdir(parents=True, exist_ok=True)
        self.spec, self._server = spec, None

    @property
    def server(self) -> EvaluationServer:
        """The run's evaluation server, started when a method first returns a student."""
        with self._lock:
            if self._server is None:
                self._server = EvaluationServer(self.spec)
            return self._server

    def run(self, code: str, seeds: list[int], references: list[dict], split: str) -> list[dict]:
        """The code on each seed (``references``: the baseline's records of those seeds, in order)."""
        return self.run_many([(code, seeds, references, split)])[0]

    def run_many(self, jobs: list[tuple[str, list[int], list[dict], str]]) -> list[list[dict]]:
        """Several codes (code, seeds, references, split) at once: every (code, seed) run on a pool of
        ``workers`` threads, each waiting on its own jail (a process of its own); the records come back
        per job, in its seeds' order."""
        per_job = []
        for code, seeds, references, split in jobs:
            name = digest(code)
            method = self.folder / "methods" / f"{name}.py"
            if not method.exists():
                atomic_write_text(method, code)
            per_job.append([(name, method, seed, ref, split) for seed, ref in zip(seeds, references, strict=True)])
        # seed by seed across the jobs, so that the first ``workers`` jails are of different codes
        order = sorted((i, j) for j, calls in enumerate(per_job) for i in range(len(calls)))
        if self.workers > 1 and len(order) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                done = list(pool.map(lambda at: self._seed(*per_job[at[1]][at[0]]), order))
        else:
            done = [self._seed(*per_job[j][i]) for i, j in order]
        found = dict(zip(order, done))
        return [[found[(i, j)] for i in range(len(calls))] for j, calls in enumerate(per_job)]

    def _seed(self, name: str, method: Path, seed: int, reference: dict, split: str) -> dict:
        done = self.students / name / f"{split}-{seed}.json"
        if done.exists():
            return json.loads(done.read_text())
        work = self.students / name / f"{split}-{seed}"
        shutil.rmtree(work, ignore_errors=True)  # a run stopped midway starts again
        started = time.time()
        with self._lock:
            inputs = jail_inputs(self.root, self.base, seed, self.pair, self.threads)
            self._architecture(seed, Path(inputs["strong"]))
        texts, weak = inputs["texts"], inputs["weak_labels"]
        ran = run_method(method, inputs["strong"], texts, weak, seed, work, LIMITS, self.threads)
        jail = {"reason": ran.reason, "returncode": ran.returncode, "seconds": ran.seconds}
        jail["output"] = ran.output[-OUTPUT_CHARS:]
        accuracy, failed, flags = None, None, []
        if not ran.ok:
            said = one_line(ran.output)
            failed = f"seed {seed}: {ran.reason}" + (f" ({said})" if said and said not in ran.reason else "")
        else:
            try:
                answer = self.server.score(split, seed, f"code-{name}", ran.student)
                accuracy, flags = answer["accuracy"], list(answer.get("flags", []))
            except Refused as e:
                failed = f"seed {seed}: the evaluation server refused its student: {one_line(e.reason)}"
        _tidy(work, ran.student if accuracy is not None else None)
        record = {
            "seed": seed,
            "weak": reference["weak"],
            "ceiling": reference["ceiling"],
            "guard": reference["guard"],
            "methods": {
                SLOT: {  # a flagged student has no PGR: never kept, never reported
                    "pgr": None if accuracy is None or flags else pgr(accuracy, reference),
                    "student": accuracy,
                    "flags": flags,
                }
            },
            "canaries": {},
            "seconds": round(time.time() - started, 1),
            "jail": {**jail, "failed": failed},
        }
        atomic_write_json(done, record)
        return record

    def _architecture(self, seed: int, strong: Path) -> None:
        """The seed's strong model less its weights (its config and tokenizer: what the server reads a
        student as), where the server's spec says, once."""
        target = self.strong[seed]
        if target.exists():
            return
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for path in strong.iterdir():
            if path.is_file() and path.suffix not in WEIGHTS:
                shutil.copyfile(path, partial / path.name)
        partial.rename(target)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _tidy(work: Path, student: Path | None) -> None:
    """What a method left on the host, less all but its scored student's weights (a method that
    filled its disk hands back up to ``LIMITS.disk``; none of it is kept)."""
    keep = None if student is None else (student / STUDENT_FILE).resolve()
    for path in sorted(work.rglob("*"), reverse=True):
        if path.resolve() == keep or (keep is not None and keep.is_relative_to(path.resolve())):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def failure(runs: list[dict]) -> str | None:
    """Why a proposal failed (its seeds' one-line reasons: the jail's, or the flags of a student scored
    but flagged), or None when every seed ran unflagged."""
    why = [run["jail"]["failed"] for run in runs if run.get("jail", {}).get("failed")]
    why += [
        f"seed {run['seed']}: flagged: {'; '.join(run['methods'][SLOT]['flags'])}"
        for run in runs
        if SLOT in run["methods"] and run["methods"][SLOT]["flags"]
    ]
    return "; ".join(why)[:600] if why else None
