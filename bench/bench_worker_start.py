"""What starting a pool of workers costs: spawned (each worker imports torch and transformers) against
forked from a fork server that imported them once (runtime/workers.py).

Why: every pool a run makes (stages side by side, seeds fanned out, the research loop's evaluations)
used to spawn its workers, and a spawned worker spends seconds of a core importing before it computes
anything; fan-outs and the test suite make many pools. Each measurement is a fresh Python process, as
``autoalign run`` is: it imports torch, makes a pool of ``--workers`` workers with
``AUTOALIGN_WORKER_START`` set to the method, waits for each worker to import what a stage worker
imports (autoalign's run context, torch, transformers' Llama), then makes a second pool and does the
same (what a later pool of the same process costs). The methods alternate over ``--repeats`` rounds
and each keeps its median. Wall seconds only: a spawned pool's workers import side by side, a core
each, so on a busy machine (two test workers, two seeds) a spawned pool costs more than its wall time
here. Writes ``bench/results/worker_start.json``.

    python bench/bench_worker_start.py [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from autoalign.preregistration import environment
from autoalign.runtime.workers import ENV

REPO = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import json, sys, time
    import torch  # the parent has torch loaded, as `autoalign run` does
    from autoalign.runtime.workers import pool

    def ready(_):
        import autoalign.runtime.context
        from transformers import LlamaForCausalLM
        return True

    if __name__ == "__main__":
        workers = int(sys.argv[1])
        seconds = []
        for _ in range(2):
            t0 = time.perf_counter()
            with pool(workers) as p:
                assert all(p.map(ready, range(workers)))
            seconds.append(time.perf_counter() - t0)
        print(json.dumps(seconds))
    """
)


def measure(probe: Path, method: str, workers: int) -> dict:
    out = subprocess.run(
        [sys.executable, str(probe), str(workers)],
        env={**os.environ, ENV: method},
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    first, second = json.loads(out.stdout.strip().splitlines()[-1])
    return {"first_pool_s": first, "second_pool_s": second}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "worker_start.json"))
    args = ap.parse_args()
    methods = ("spawn", "forkserver")
    runs = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:  # a file: spawned workers re-import the probe's module
        probe = Path(tmp) / "probe.py"
        probe.write_text(PROBE)
        for _ in range(args.repeats):
            for m in methods:
                runs[m].append(measure(probe, m, args.workers))
    median = {m: {k: statistics.median(r[k] for r in runs[m]) for k in runs[m][0]} for m in methods}
    result = {
        "date": datetime.date.today().isoformat(),
        "workers": args.workers,
        "repeats": args.repeats,
        "runs": runs,
        "median": median,
        "spawn_over_forkserver": {
            k: median["spawn"][k] / median["forkserver"][k] for k in ("first_pool_s", "second_pool_s")
        },
        "environment": environment(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median", "spawn_over_forkserver")}, indent=2))


if __name__ == "__main__":
    main()
