"""Controls for "PRM beats ORM" (issue #11): which part of the PRM does the work, and what the
AUROC measures.

The PRM and ORM differ in two ways at once: the labels they learn (process: is each step right;
outcome: is the final answer right) and how their log-likelihood head reads a solution (per step,
each step's own log-probability, the solution scored by aggregating every step; or cumulatively,
the whole prefix's log-probability, the solution scored at its last step). Crossing the two gives a
2x2 ablation, whose cells are the verifiers below:

=============  =================  ==================
labels         per-step head      cumulative head
=============  =================  ==================
process        ``prm``            ``prm_cumulative``
outcome        ``orm_per_step``   ``orm``
=============  =================  ==================

``ablation_effects`` turns the four cells' per-problem best-of-N accuracies into the two main
effects and their interaction, each with a paired CI over problems. Two more ORMs answer "is the
likelihood head's ORM a fair ORM?": ``orm_last_token`` classifies the solution from the hidden
state at its last token (one label per solution, backbone fine-tuned, as ORMs usually are), and
``orm_frozen`` fits the same head on a frozen backbone. A frozen log-likelihood head would be
pointless: an affine map of the likelihood cannot change the ranking, so it is the likelihood floor.

The pooled AUROC over all samples rewards telling easy problems from hard ones, which reranking
never uses (it compares solutions of one problem); ``within_problem_auroc`` measures only the
ranking within each problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...measures import bootstrap_ci, within_group_auroc
from ...results import Estimate


@dataclass(frozen=True)
class VerifierSpec:
    """One verifier of the comparison: its label type (``kind``: prm = process, orm = outcome),
    head, aggregation (see ``overseers/verifier.py``) and whether its backbone is frozen."""

    name: str
    kind: str
    head: str
    aggregation: str
    frozen: bool = False
    group: str = "main"  # main; weak (best_of_n.verifier.weak_baseline); ablation (.ablation)


VERIFIERS = [
    VerifierSpec("prm", "prm", "loglik", "per_step"),
    VerifierSpec("orm", "orm", "loglik", "cumulative"),
    VerifierSpec("prm_weak", "prm", "linear", "per_step", group="weak"),
    VerifierSpec("orm_weak", "orm", "linear", "cumulative", group="weak"),
    VerifierSpec("prm_cumulative", "prm", "loglik", "cumulative", group="ablation"),
    VerifierSpec("orm_per_step", "orm", "loglik", "per_step", group="ablation"),
    VerifierSpec("orm_last_token", "orm", "linear", "last_token", group="ablation"),
    VerifierSpec("orm_frozen", "orm", "linear", "last_token", frozen=True, group="ablation"),
]

# (labels, aggregation) -> the verifier in that cell
CELLS = {
    ("process", "per_step"): "prm",
    ("process", "cumulative"): "prm_cumulative",
    ("outcome", "per_step"): "orm_per_step",
    ("outcome", "cumulative"): "orm",
}


def enabled_verifiers(weak_baseline: bool, ablation: bool) -> list[VerifierSpec]:
    on = {"main": True, "weak": weak_baseline, "ablation": ablation}
    return [s for s in VERIFIERS if on[s.group]]


def ablation_effects(
    curves: dict[str, dict[int, np.ndarray]], n_values: list[int], n_resamples: int = 2000, seed: int = 0
) -> dict[str, dict[str, Estimate]]:
    """The 2x2's cells, main effects and interaction at every N, from per-problem accuracies.

    Per problem, with cells ``pp`` (process, per step), ``pc``, ``op``, ``oc``:

    - ``labels`` = mean over aggregations of process - outcome = ((pp - op) + (pc - oc)) / 2;
    - ``aggregation`` = mean over labels of per-step - cumulative = ((pp - pc) + (op - oc)) / 2;
    - ``interaction`` = (pp - pc) - (op - oc): how much more the per-step head helps with process
      labels than with outcome labels.

    Each is a mean over problems with a bootstrap CI over problems (paired: the same problems in
    every cell), and keeps its per-problem values so it pools over seeds. Empty unless all four
    cells were run."""
    if not all(m in curves for m in CELLS.values()):
        return {}
    out: dict[str, dict[str, Estimate]] = {f"{lab}_{agg}": {} for lab, agg in CELLS}
    out.update(labels={}, aggregation={}, interaction={})
    for n in n_values:
        pp, pc, op, oc = (np.asarray(curves[CELLS[c]][n], dtype=float) for c in CELLS)
        for (lab, agg), m in CELLS.items():
            out[f"{lab}_{agg}"][str(n)] = bootstrap_ci(curves[m][n], n_resamples=n_resamples, seed=seed)
        effects = {
            "labels": ((pp - op) + (pc - oc)) / 2,
            "aggregation": ((pp - pc) + (op - oc)) / 2,
            "interaction": (pp - pc) - (op - oc),
        }
        for k, v in effects.items():
            out[k][str(n)] = bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
    return out


def within_problem_auroc(
    problem_ids: list, correct: list[bool], scores, n_resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Mean over problems whose pool holds both correct and incorrect samples of the AUROC of
    ``scores`` within the problem, with a bootstrap CI over those problems (its per-problem values
    pool over seeds). Non-finite scores count as the lowest. NaN where no problem is mixed."""
    s = np.asarray(scores, dtype=float)
    s = np.where(np.isfinite(s), s, -1e300)
    per_problem = within_group_auroc(problem_ids, correct, s)
    if not per_problem:
        nan = float("nan")
        return {"mean": nan, "ci_low": nan, "ci_high": nan, "n": 0, "resampled": "problems"}
    return bootstrap_ci(list(per_problem.values()), n_resamples=n_resamples, seed=seed)
