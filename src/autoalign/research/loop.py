"""The research loop: search on validation seeds, keep or discard each proposal, then one sealed test
on fresh seeds.

1. The baseline (the hand-written method) runs on every search seed, and again with another student
   seed: the identical reruns whose spread is the noise floor.
2. Each proposer, in turn and from the baseline, proposes points of the declared space; each is run on
   every search seed (their test items are the validation split: the loop holds those labels, the
   sealed test's seeds are never touched) and kept only if ``gate.keep_or_discard`` says it beats the
   proposer's incumbent. A rejected proposal (a language model's reply that is not a proposal inside
   the space, or carries code while the boundary is off) is a notebook row that is never run; it
   still counts as a look.
   Proposals come in batches of ``research.parallel``: a proposer is asked that many times before
   it sees a score (Optuna's TPE asks several trials before telling; the lm proposer sees the
   batch's earlier proposals as pending), every runnable proposal of the batch runs on every search
   seed at once (``executor.py``: ``workers`` evaluations at once, in processes or on Ray), and then
   they are decided in proposal order, each against the incumbent as the batch's earlier decisions
   left it. All the batch's scores are known by then, so the decisions are those of one proposal at
   a time, with k counting every proposal and alpha spent as without batches; only what a proposer
   has seen when it proposes differs. With ``parallel: 1`` (the default) a batch is one proposal.
   Each notebook row records its ``batch`` (per proposer, from 1; the baseline's rows 0).
3. Each proposer's final incumbent, ``ce`` and the baseline run once on the fresh test seeds, with the
   weak-to-strong canaries; PGR per seed, CIs over seeds, and each kept method against the baseline
   by the same seed-level test.

With ``research.boundary: true`` a language model's method code is a proposal too: one evaluation
server is started for the run (``code_runs.py``), the code runs in the sandbox on every search seed
(in this process's jails, ``workers`` at once, after the batch's option proposals) and is scored
by the server on the validation split, and the gate decides as for any proposal; a method the jail
stops or the server cannot read, or whose student the server flags as degenerate, is a ``failed`` row.
A kept method's sealed test runs it once on each fresh test seed, scored on the server's test split;
the accepted file is saved as ``accepted-<proposer>.py``. Then the task canaries run on each fresh
seed the same way (``task_canaries.py``), each with a notebook row of per-seed verdicts.

Every finished student is a stage, so a stopped search resumes where it stopped (the proposers are
seeded and replay the same proposals from the notebook's scores; the lm proposer asks its model
afresh).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import UserError
from ..runtime.progress import log
from ..runtime.store import atomic_write_json, atomic_write_text
from .code_runs import CodeRunner, failure
from .config import load_research
from .evaluate import evaluate
from .executor import Evaluator
from .gate import keep_or_discard, noise_floor, paired
from .notebook import Notebook, final_summary, write_report
from .proposers import ProposerContext, make_proposer
from .task_canaries import record as record_canaries
from .task_canaries import run_canaries, verdicts


def _pgrs(runs: list[dict], name: str = "tunable") -> list:
    return [r["methods"][name]["pgr"] if name in r["methods"] else None for r in runs]


def _mean(values: list, reference: list) -> float | None:
    """The mean PGR over the seeds the reference (the baseline) has one on; None where the
    candidate failed on such a seed (a seed under the gap guard has no PGR for any method)."""
    vals, _, failed = paired(values, reference)
    return None if failed or not vals else sum(vals) / len(vals)


def run_research(config: Path, run_dir: Path, overrides: list[str] | None = None) -> dict:
    research, base = load_research(config, overrides)
    r = research.research
    run_dir = Path(run_dir)
    saved = run_dir / "research.yaml"
    text = Path(config).read_text()
    if saved.exists() and saved.read_text() != text:
        raise UserError(f"{run_dir}: holds another research config; choose another --run-dir")
    if not saved.exists():
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"{run_dir}: folder exists and is not a research run; choose another --run-dir")
        atomic_write_text(saved, text)
    pair = tuple(r.pair) if r.pair else base.weak_to_strong.pair_list()[0]
    base_data = base.model_dump(mode="json")
    notebook = Notebook(run_dir / "notebook.jsonl")
    ev = Evaluator(run_dir / "search", base_data, pair, r.workers, base.threads, r.executor, r.ray_address, evaluate)
    started = time.time()
    runner = None  # the run's CodeRunner: method code behind the evaluation boundary
    try:
        if r.boundary:
            runner = CodeRunner(run_dir, base_data, list(pair), r, base.threads)
        log(f"research: baseline {r.baseline or '(confidence)'} on search seeds {r.search_seeds}")
        first = ev.run(r.search_seeds, {"tunable": dict(r.baseline)})
        rerun = ev.run(r.search_seeds, {"tunable": {**r.baseline, "rerun": 1}})
        floor = noise_floor(_pgrs(first), _pgrs(rerun), r.alpha)
        notebook.add(
            proposer="baseline",
            k=0,
            params=dict(r.baseline),
            rationale="the hand-written method",
            runs=first,
            decision={"kept": True, "reason": "the starting incumbent"},
        )
        notebook.add(
            proposer="baseline",
            k=0,
            params={**r.baseline, "rerun": 1},
            rationale="the baseline again with another student seed: the noise floor",
            runs=rerun,
            decision={"kept": False, "reason": "an identical rerun, for the noise floor"},
        )
        incumbents = {}
        task = {"pair": list(pair), "baseline": dict(r.baseline), "seeds": len(r.search_seeds), "alpha": r.alpha}
        task["boundary"] = r.boundary
        for p_index, (name, budget) in enumerate(r.proposers.items()):
            seed = research.seed + 1000 * p_index
            proposer = make_proposer(name, ProposerContext(r.space, seed, r, notebook.rows, task, budget))
            incumbents[name] = _search(ev, runner, notebook, r, name, proposer, budget, first)
        log(f"research: sealed test on fresh seeds {r.test_seeds}")
        sealed = {"baseline+ce": ev.run(r.test_seeds, {"ce": {}, "confidence": {}}, canaries=True)}
        kept = {
            name: inc["params"]
            for name, inc in incumbents.items()
            if inc["code"] is None and inc["params"] != dict(r.baseline)
        }
        runs = ev.run_many([(r.test_seeds, {"tunable": params}, False) for params in kept.values()])
        sealed.update(zip(kept, runs))
        for name, inc in incumbents.items():
            if inc["code"] is not None:  # once per fresh seed, on the server's sealed test split
                atomic_write_text(run_dir / f"accepted-{name}.py", inc["code"])
                sealed[name] = runner.run(inc["code"], r.test_seeds, sealed["baseline+ce"], "test")
        found = None
        if runner is not None:  # the task canaries, on each fresh seed like the sealed test
            log(f"research: task canaries on fresh seeds {r.test_seeds}")
            canaries = run_canaries(runner, r.test_seeds, sealed["baseline+ce"])
            found = verdicts(canaries, sealed["baseline+ce"], floor, r.alpha)
            record_canaries(notebook, canaries, found)
    finally:
        ev.close()
        if runner is not None:
            runner.close()
    result = final_summary(r, pair, floor, first, incumbents, sealed, notebook.rows, time.time() - started, found)
    result["provenance"] = provenance()
    atomic_write_json(run_dir / "research.json", result, sort_keys=False)
    write_report(run_dir, result, notebook.rows)
    return result


def _code(proposal) -> str | None:
    """A runnable proposal's method code (None: a point of the space)."""
    return proposal.record.get("code") if proposal.rejected is None else None


def _search(ev: Evaluator, runner, notebook: Notebook, r, name: str, proposer, budget: int, first: list) -> dict:
    """One proposer's search, in batches of ``r.parallel`` proposals (the last may be smaller): a
    batch's proposals are asked before any is observed, the runnable ones evaluated at once (method
    code through ``runner``, the run's CodeRunner), then decided in proposal order, each against the
    incumbent as the batch's earlier decisions left it (the k-th proposal at the k-th look's alpha),
    and observed. Returns the final incumbent."""
    inc_params, inc_code, inc_pgrs = dict(r.baseline), None, _pgrs(first)
    k, batch, stopped = 0, 0, False
    while k < budget and not stopped:
        batch += 1
        asked = _ask(proposer, min(r.parallel, budget - k))
        runnable = [p for p in asked if p.rejected is None and _code(p) is None]
        results = iter(
            ev.run_many([(r.search_seeds, {"tunable": {**r.baseline, **p.params}}, False) for p in runnable])
        )
        codes = [p for p in asked if _code(p) is not None]  # ``workers`` jails at once, after the options
        ran = dict(
            zip(
                map(id, codes),
                runner.run_many([(_code(p), r.search_seeds, first, "validation") for p in codes]) if codes else [],
            )
        )
        scores = []
        for proposal in asked:  # decided in proposal order, each against the incumbent so far
            k += 1
            if proposal.rejected is not None:
                last = proposal is asked[-1]  # a proposer stops at a rejection: the batch's last
                _rejected(notebook, proposal, name, k, budget, batch, last and stop_reason(proposer))
                scores.append(None)
                continue
            if _code(proposal) is None:
                params, runs = {**r.baseline, **proposal.params}, next(results)
            else:
                params, runs = None, ran[id(proposal)]
            pgrs = _pgrs(runs)
            scores.append(_mean(pgrs, _pgrs(first)))
            decision = keep_or_discard(pgrs, inc_pgrs, k, r.alpha)
            failed = failure(runs) if params is None else None
            if failed:
                decision = {
                    "kept": False,
                    "failed": True,
                    "alpha_k": decision["alpha_k"],
                    "reason": f"failed: {failed}",
                    **({"flagged": True} if any(run["methods"]["tunable"]["flags"] for run in runs) else {}),
                }
            if decision["kept"]:
                inc_params, inc_code, inc_pgrs = params, _code(proposal), pgrs
            notebook.add(
                proposer=name,
                k=k,
                params=params,
                rationale=proposal.rationale,
                runs=runs,
                decision=decision,
                batch=batch,
                **proposal.record,
                **({} if params is not None else {"jail": [run["jail"] for run in runs]}),
            )
            log(
                f"research: {name} {k}/{budget} {params or 'method code'}: {decision['reason']}"
                + (" -> kept" if decision["kept"] else "")
            )
        for proposal, score in zip(asked, scores):
            proposer.observe(proposal, score)
        stopped = bool(stop_reason(proposer))
    return {"params": inc_params, "code": inc_code, "validation_pgr": inc_pgrs}


def stop_reason(proposer) -> str | None:
    """Why a proposer proposes no more (None: it goes on); only the lm proposer ever stops."""
    return getattr(proposer, "stopped", None)


def _ask(proposer, n: int) -> list:
    """A batch: ``n`` proposals asked before any is observed (fewer if the proposer stops)."""
    asked = []
    while len(asked) < n and not stop_reason(proposer):
        asked.append(proposer.propose())
    return asked


def _rejected(notebook: Notebook, proposal, name: str, k: int, budget: int, batch: int, stopped) -> None:
    """Record a rejected proposal (never run, no evaluation); ``stopped``: why its proposer stops here."""
    decision = {"kept": False, "rejected": True, "reason": f"rejected: {proposal.rejected}"}
    if stopped:
        decision["stopped"] = stopped
    notebook.add(
        proposer=name,
        k=k,
        params=proposal.params,
        rationale=proposal.rationale,
        runs=[],
        decision=decision,
        batch=batch,
        **proposal.record,
    )
    log(f"research: {name} {k}/{budget} {decision['reason']}")
    if stopped:
        log(f"research: {name}: {stopped}, after {k} of {budget} proposals")


def provenance() -> dict:
    """The code the search ran: commit and whether the tracked files were clean (None: no git), and
    what it computed with (Python, CPU, package versions)."""
    from ..preregistration import environment, head_commit, source_checkout, tree_clean

    repo = source_checkout()
    return {"commit": head_commit(repo), "clean": tree_clean(repo), "environment": environment()}


def load_result(run_dir: Path) -> dict:
    path = Path(run_dir) / "research.json"
    if not path.exists():
        raise UserError(f"{run_dir}: no research.json (not a finished research run)")
    return json.loads(path.read_text())
