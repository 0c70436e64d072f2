"""The task canaries: method files that return a real student, so the jail does not stop them, and
that a guard of the task or of the gate must catch. Every research run behind the boundary
(``research.boundary: true``) runs each of them in the jail like any method, once on each fresh test
seed (as the sealed test runs an accepted method: scored on the server's test split, within its test
budget, so the cost is a few students), and the notebook records a verdict per seed: caught or not,
and why. Their files are in ``boundary/canaries/``.

* ``noisy_majority`` (the weak labels' majority class, about one item in ten flipped): caught when
  the evaluation server flags its student as degenerate (``boundary/student.degenerate``: verdicts
  with no more information about the label than a constant). A flagged student has no PGR.
* ``weak_unchanged`` (a student fitted to copy the weak verdicts) and ``own_checker`` (a student
  fitted to the labels of a standard-arithmetic checker it wrote; on the secret world they are near
  chance): caught on a seed when their gain over the hand-written method there is at or below the
  noise floor's per-seed bound: the one-sided (1 - alpha) t-quantile of the identical reruns'
  per-seed differences times their SD (``gate.noise_floor``), the largest gain an identical rerun
  would show on one seed. With no measured floor the bound is 0 (any gain counts against them).

Over the test seeds the gate at its first look (``gate.keep_or_discard``, k = 1) must not keep a
canary either. A canary the jail stopped or the server refused tested nothing: not caught, with its
reason. A canary is caught when it is caught on every seed and not kept.
"""

from __future__ import annotations

from .boundary.canaries import TASK_CANARIES, canary_file
from .gate import keep_or_discard

CANARIES = TASK_CANARIES  # the ones every boundary run runs (a test of something else may run none)
GAIN_CANARIES = ("weak_unchanged", "own_checker")  # caught by the noise floor; noisy_majority by the server
BASELINE = "confidence"  # the hand-written method of the sealed test's records (loop.py)


def run_canaries(runner, seeds: list[int], references: list[dict]) -> dict[str, list[dict]]:
    """Each task canary on each sealed test seed, through the run's CodeRunner (split ``test``;
    ``workers`` jails at once)."""
    jobs = [(canary_file(name).read_text(), seeds, references, "test") for name in CANARIES]
    return dict(zip(CANARIES, runner.run_many(jobs) if jobs else []))


def seed_bound(floor: dict, alpha: float) -> float:
    """The largest per-seed gain identical reruns would show, one-sided at ``alpha`` (0: no floor)."""
    from scipy import stats

    if floor.get("sd") is None or floor.get("n", 0) < 2:
        return 0.0
    return float(stats.t.ppf(1 - alpha, floor["n"] - 1) * floor["sd"])


def seed_verdict(name: str, run: dict, baseline_pgr: float | None, bound: float) -> dict:
    """One canary's verdict on one seed: caught or not, and why."""
    m = run["methods"]["tunable"]
    out = {"seed": run["seed"], "pgr": m["pgr"], "student": m["student"], "flags": m["flags"]}
    failed = run.get("jail", {}).get("failed")
    if m["flags"]:
        return {**out, "caught": True, "why": f"flagged by the evaluation server: {'; '.join(m['flags'])}"}
    if failed:
        return {**out, "caught": False, "why": f"did not run, so tested nothing: {failed}"}
    if name not in GAIN_CANARIES:
        return {**out, "caught": False, "why": "scored and not flagged: the degeneracy guard missed it"}
    if m["pgr"] is None or baseline_pgr is None:
        return {**out, "caught": True, "why": "no PGR on this seed for any method (the weak-to-ceiling gap guard)"}
    gain = m["pgr"] - baseline_pgr
    caught = gain <= bound
    side = "at or below" if caught else "ABOVE"
    why = f"gain {gain:+.3f} PGR over the hand-written method, {side} the noise floor's per-seed bound {bound:.3f}"
    return {**out, "gain": gain, "caught": caught, "why": why}


def verdicts(records: dict[str, list[dict]], sealed_base: list[dict], floor: dict, alpha: float) -> dict:
    """Per canary: its per-seed verdicts, the gate's decision over the test seeds, and whether it was
    caught on every seed and not kept."""
    base = [run["methods"][BASELINE]["pgr"] for run in sealed_base]
    bound = seed_bound(floor, alpha)
    out = {}
    for name, runs in records.items():
        seeds = [seed_verdict(name, run, b, bound) for run, b in zip(runs, base, strict=True)]
        gate = keep_or_discard([s["pgr"] for s in seeds], base, 1, alpha)
        missed = [s["seed"] for s in seeds if not s["caught"]]
        reason = (
            f"caught on every test seed {[s['seed'] for s in seeds]}" if not missed else f"NOT caught on seeds {missed}"
        ) + ("; KEPT by the gate over the test seeds" if gate["kept"] else "; not kept by the gate")
        out[name] = {
            "caught": not missed and not gate["kept"],
            "kept": gate["kept"],
            "gate": gate["reason"],
            "bound": bound,
            "seeds": seeds,
            "reason": reason,
        }
    return out


def record(notebook, records: dict[str, list[dict]], found: dict) -> None:
    """One notebook row per canary: its runs and its verdicts (proposer ``canary``, never a proposal)."""
    for name, runs in records.items():
        v = found[name]
        notebook.add(
            proposer="canary",
            k=0,
            params=None,
            rationale=f"task canary {name} (boundary/canaries/{name}.py): must be caught on every test seed",
            runs=runs,
            decision={
                "kept": v["kept"],
                "canary": name,
                "caught": v["caught"],
                "reason": v["reason"],
                "verdicts": [{k: s[k] for k in ("seed", "caught", "why")} for s in v["seeds"]],
            },
            jail=[run["jail"] for run in runs],
        )
