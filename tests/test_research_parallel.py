"""The research search as small independent experiments (no training: scripted evaluators stand in for
the students): a batch of ``research.parallel`` proposals is asked before any is observed, evaluated
together, and decided in proposal order, each against the incumbent as the batch's earlier decisions
left it; budgets are exact; random search proposes and decides the same with or without batches; and
with two workers, on a process pool or on Ray, two proposals run at once in different processes."""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from research_fakes import evaluation

from autoalign.errors import UserError
from autoalign.research import executor, loop
from autoalign.research.config import load_research
from autoalign.research.gate import keep_or_discard
from autoalign.research.proposers import Proposal

CONFIG = """\
name: research-parallel-test
seed: 0
weak_to_strong:
  sizes: [micro, tiny]
research:  # last: a test appends research keys
  search_seeds: [11, 12, 13, 14]
  test_seeds: [21, 22, 23]
  proposers: {proposers}
  parallel: {parallel}
  space:
    loss: {{choices: [ce, confidence]}}
    lr_scale: {{low: 0.25, high: 4, log: true}}
    label_temperature: {{low: 0.25, high: 4, log: true}}
"""

GAIN = {2.0: 0.3, 2.1: 0.3, 3.0: 0.6, 3.5: 0.6}  # lr_scale -> PGR gain (scripted); else 0


def scripted(calls: list):
    """PGR 0.2 + GAIN[lr_scale] with per-seed noise (SD 0.02) drawn from the seed and the options."""

    def evaluate(root, base, seed, pair, methods, canaries, threads):
        calls.append((seed, json.loads(json.dumps(methods)), canaries))
        out = {}
        for name, opts in methods.items():
            rng = np.random.default_rng([seed, zlib.crc32(json.dumps([name, opts], sort_keys=True).encode())])
            gain = GAIN.get(opts.get("lr_scale"), 0.0) if name == "tunable" else 0.0
            out[name] = 0.2 + gain + rng.normal(0, 0.02)
        return evaluation(seed, out, canaries)

    return evaluate


class ScriptedProposer:
    """Proposes ``points`` in order and logs every propose and observe."""

    def __init__(self, points: list[dict]):
        self.points, self.log = list(points), []

    def propose(self) -> Proposal:
        self.log.append("propose")
        return Proposal(self.points.pop(0), "scripted")

    def observe(self, proposal: Proposal, score) -> None:
        self.log.append(("observe", proposal.params, score))


def rows_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "notebook.jsonl").read_text().splitlines()]


def assert_decided_in_order(rows: list[dict], alpha: float = 0.05) -> None:
    """Every proposal's decision is the gate's against the incumbent its proposer had just before it
    (the baseline, then each kept proposal in turn), at the k-th look."""
    base = rows[0]["validation_pgr"]
    incumbent: dict = {}
    for row in rows[2:]:
        if row["decision"].get("rejected"):
            continue
        inc = incumbent.get(row["proposer"], base)
        assert row["decision"] == keep_or_discard(row["validation_pgr"], inc, row["k"], alpha), row
        if row["decision"]["kept"]:
            incumbent[row["proposer"]] = row["validation_pgr"]


def run(tmp_path, monkeypatch, proposers: str, parallel: int, folder="run"):
    (tmp_path / "r.yaml").write_text(CONFIG.format(proposers=proposers, parallel=parallel))
    calls: list = []
    monkeypatch.setattr(loop, "evaluate", scripted(calls))
    result = loop.run_research(tmp_path / "r.yaml", tmp_path / folder)
    return result, rows_of(tmp_path / folder), calls


# -- batches on the process executor, in this process --------------------------------------------------


def test_a_batch_is_asked_then_evaluated_at_once_then_decided_in_order(tmp_path, monkeypatch):
    """Two proposals of one batch both beat the baseline: the first is kept and the second is judged
    against it (and discarded: no better than the first), though against the baseline it would be kept."""
    proposer = ScriptedProposer([{"lr_scale": v} for v in (2.0, 2.1, 3.0, 1.0, 3.5)])
    monkeypatch.setattr(loop, "make_proposer", lambda name, ctx: proposer)
    batches: list = []

    class Recording(executor.Evaluator):
        def run_many(self, jobs):
            batches.append(len(jobs))
            return super().run_many(jobs)

    monkeypatch.setattr(loop, "Evaluator", Recording)
    result, rows, calls = run(tmp_path, monkeypatch, "{random: 5}", parallel=3)
    props = rows[2:]
    assert [r["k"] for r in props] == [1, 2, 3, 4, 5] and [r["batch"] for r in props] == [1, 1, 1, 2, 2]
    assert [r["batch"] for r in rows[:2]] == [0, 0]
    assert [r["decision"]["kept"] for r in props] == [True, False, True, False, False]
    a, b, c, _, e = props
    assert b["decision"]["gain"] == pytest.approx(0.0, abs=0.06)  # against a, not the baseline
    assert keep_or_discard(b["validation_pgr"], rows[0]["validation_pgr"], 2, 0.05)["kept"]
    assert c["decision"]["gain"] == pytest.approx(0.3, abs=0.06)  # against a, kept
    assert e["decision"]["gain"] == pytest.approx(0.0, abs=0.06) and not e["decision"]["kept"]  # against c
    assert_decided_in_order(rows)
    # asked a whole batch before any score; observed in proposal order after it
    kinds = [x if x == "propose" else "observe" for x in proposer.log]
    assert kinds == ["propose"] * 3 + ["observe"] * 3 + ["propose"] * 2 + ["observe"] * 2
    assert [x[1] for x in proposer.log if x != "propose"] == [r["params"] for r in props]
    assert proposer.log[3][2] == pytest.approx(a["mean_validation_pgr"])
    # one evaluation call per batch: baseline, rerun, the two batches, the sealed test, the incumbent
    assert batches == [1, 1, 3, 2, 1, 1]
    assert len([c for c in calls if c[0] in (11, 12, 13, 14)]) == 4 * (2 + 5)
    assert result["proposers"]["random"]["final"] == {"lr_scale": 3.0}


def test_budgets_are_exact_and_random_search_is_the_same_with_or_without_batches(tmp_path, monkeypatch):
    _, one, _ = run(tmp_path, monkeypatch, "{random: 7, tpe: 5}", parallel=1, folder="one")
    result, three, _ = run(tmp_path, monkeypatch, "{random: 7, tpe: 5}", parallel=3, folder="three")
    assert [r["batch"] for r in one if r["proposer"] == "random"] == [r["k"] for r in one[2:9]]
    for rows in (one, three):
        assert [r["proposer"] for r in rows[2:]] == ["random"] * 7 + ["tpe"] * 5
        assert [r["k"] for r in rows[2:]] == [*range(1, 8), *range(1, 6)]
        assert_decided_in_order(rows)
    assert [r["batch"] for r in three[2:]] == [1, 1, 1, 2, 2, 2, 3, 1, 1, 1, 2, 2]
    # random search does not read scores: the same proposals, scores and decisions in batches of 3
    same = ("params", "validation_pgr", "decision", "k")
    assert [{k: r[k] for k in same} for r in one[:9]] == [{k: r[k] for k in same} for r in three[:9]]
    assert result["proposers"]["tpe"]["proposals"] == 5 and result["compute"]["evaluations"] == 4 * 14
    again = loop.run_research(tmp_path / "r.yaml", tmp_path / "three")  # resumes: the same proposals
    assert again["proposers"] == result["proposers"]


# -- two workers: two proposals at once -------------------------------------------------------------

# seconds of a proposal's evaluation on seed 11 (0.05 elsewhere). The workers are warm by then (the
# baseline's evaluations come first): two workers' proposals started 0.05 s apart when measured, so
# one second leaves the overlap a margin of about 20 times that
SLOW = 1.0


def timed(root, base, seed, pair, methods, canaries, threads):
    """A scripted evaluation that records (job, pid, start, end) in ``root``/../jobs; module-level and
    self-contained (stdlib only), so a process pool imports it and Ray pickles it by value.

    A proposal takes SLOW seconds on seed 11 and almost none on seed 12: with two workers, whatever
    the order the four evaluations of two proposals start in, one proposal's slow evaluation is still
    running when the other proposal's first one starts, if (and only if) two run at once."""
    start = time.time()
    opts = methods.get("tunable", {})
    proposal = "tunable" in methods and set(opts) - {"rerun"}
    time.sleep(SLOW if proposal and seed == 11 else 0.05)
    end = time.time()
    jobs = Path(root).parent / "jobs"
    jobs.mkdir(exist_ok=True)
    record = {"seed": seed, "methods": methods, "pid": os.getpid(), "start": start, "end": end}
    (jobs / f"{os.getpid()}-{time.time_ns()}.json").write_text(json.dumps(record))
    pgr = 0.2 + 0.01 * (seed % 7) + (0.001 * len(json.dumps(opts)) if proposal else 0.0)
    return {
        "seed": seed,
        "weak": 0.6,
        "ceiling": 0.8,
        "guard": None,
        "methods": {name: {"pgr": pgr, "student": 0.7, "flags": []} for name in methods},
        "canaries": {k: {"caught": True, "flags": []} for k in ("majority", "peek")} if canaries else {},
        "seconds": round(end - start, 2),
    }


def overlapping(run_dir: Path) -> list[tuple[dict, dict]]:
    """Pairs of evaluations of two different proposals that ran at the same time."""
    records = [json.loads(p.read_text()) for p in (run_dir / "jobs").iterdir()]
    searched = [r for r in records if set(r["methods"].get("tunable", {})) - {"rerun"}]
    assert len(searched) == 2 * 2  # two proposals on two search seeds
    return [
        (a, b)
        for a in searched
        for b in searched
        if a["methods"] != b["methods"] and a["start"] < b["end"] and b["start"] < a["end"]
    ]


def check_two_at_once(run_dir: Path) -> None:
    pairs = overlapping(run_dir)
    assert pairs and all(a["pid"] != b["pid"] for a, b in pairs)
    rows = rows_of(run_dir)
    props = rows[2:]
    assert [r["batch"] for r in props] == [1, 1] and props[0]["params"] != props[1]["params"]
    assert_decided_in_order(rows)


SMALL = CONFIG.replace("[11, 12, 13, 14]", "[11, 12]").replace("[21, 22, 23]", "[21, 22]")


def test_two_workers_run_two_proposals_at_once_on_a_process_pool(tmp_path, monkeypatch):
    (tmp_path / "r.yaml").write_text(SMALL.format(proposers="{random: 2}", parallel=2) + "  workers: 2\n")
    monkeypatch.setattr(loop, "evaluate", timed)  # spawned workers import it from this module
    loop.run_research(tmp_path / "r.yaml", tmp_path / "run")
    check_two_at_once(tmp_path / "run")
    # the check can fail: with one worker (in this process) the same batch runs one evaluation at a time
    (tmp_path / "r.yaml").write_text(SMALL.format(proposers="{random: 2}", parallel=2))
    loop.run_research(tmp_path / "r.yaml", tmp_path / "one")
    assert overlapping(tmp_path / "one") == []


def test_with_executor_ray_and_two_workers_two_proposals_run_at_once(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="executor: ray needs Ray (pip install 'autoalign[ray]')")
    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")
    text = SMALL.format(proposers="{random: 2}", parallel=2) + "  workers: 2\n  executor: ray\n"
    (tmp_path / "r.yaml").write_text(text)
    monkeypatch.setattr(loop, "evaluate", timed)
    module = sys.modules[timed.__module__]
    ray.cloudpickle.register_pickle_by_value(module)  # Ray's workers cannot import a test module
    try:
        loop.run_research(tmp_path / "r.yaml", tmp_path / "run")
    finally:
        ray.cloudpickle.unregister_pickle_by_value(module)
    assert not ray.is_initialized()  # the Ray the evaluator started is shut down
    check_two_at_once(tmp_path / "run")


def test_executor_ray_without_ray_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(UserError) as err:
        executor.Evaluator(tmp_path, {}, ("micro", "tiny"), 2, 2, executor="ray")
    assert "pip install 'autoalign[ray]'" in str(err.value) and "\n" not in str(err.value)


# -- config errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        ("  executor: dask\n", "research.executor"),
        ("  parallel: 0\n", "research.parallel"),
        ("  workers: 0\n", "research.workers"),
        ("  ray_address: auto\n", "ray_address: only with executor: ray"),
        ("  executor: ray\n  ray_address: ''\n", "research.ray_address"),
    ],
)
def test_bad_executor_configs_fail_in_one_line(tmp_path, extra, message):
    text = CONFIG.format(proposers="{random: 2}", parallel=1).replace("  parallel: 1\n", "")
    (tmp_path / "r.yaml").write_text(text + extra)
    with pytest.raises(UserError) as err:
        load_research(tmp_path / "r.yaml")
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_the_executor_settings_load(tmp_path):
    text = CONFIG.format(proposers="{random: 2}", parallel=2)
    (tmp_path / "r.yaml").write_text(text + "  executor: ray\n  ray_address: ray://head:10001\n  workers: 4\n")
    r = load_research(tmp_path / "r.yaml")[0].research
    assert (r.executor, r.ray_address, r.workers, r.parallel) == ("ray", "ray://head:10001", 4, 2)
