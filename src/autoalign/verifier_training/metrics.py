"""How good a trained verifier is on held-out solutions: two AUROCs and ProcessBench's F1.

* step AUROC: every step up to and including the first wrong one (the steps a PRM is trained on;
  after a mistake the labels say little), its label against the verifier's probability for it;
* solution AUROC: whether every label is true, against one score per solution (the minimum step
  probability for a PRM, the last one for an ORM);
* answer AUROC: the last label (the final answer's, what an ORM learns) against the same score;
  it differs from the solution AUROC where a slip is repaired and the answer is right all the same;
* ProcessBench F1 (Zheng et al. 2024): the predicted first error is the first step whose
  probability is below 0.5 (or none). ``acc_erroneous`` is the share of erroneous solutions whose
  predicted first error is the true one, ``acc_correct`` the share of all-correct solutions
  predicted to have none, and F1 their harmonic mean. It rewards finding *where* a solution goes
  wrong, which an AUROC does not ask.

A metric that its data cannot define (an AUROC with only one class, an accuracy with no solutions
of that kind) is None, not a number.
"""

from __future__ import annotations

from .data import first_error

THRESHOLD = 0.5


def _auroc(labels: list[bool], scores: list[float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score([int(x) for x in labels], scores))


def predicted_first_error(probs: list[float], threshold: float = THRESHOLD) -> int | None:
    return next((i for i, p in enumerate(probs) if p < threshold), None)


def solution_probability(probs: list[float], kind: str) -> float:
    """One number per solution: the lowest step probability (PRM) or the last (ORM)."""
    if not probs:
        return 0.0
    return min(probs) if kind == "prm" else probs[-1]


def verifier_metrics(labels: list[list[bool]], probs: list[list[float]], kind: str) -> dict:
    """Held-out metrics of a verifier from each solution's step labels and step probabilities."""
    step_y, step_s = [], []
    sol_y, sol_s, answer_y = [], [], []
    hits_err = n_err = hits_ok = n_ok = 0
    for y, p in zip(labels, probs):
        if len(y) != len(p):
            raise ValueError(f"{len(y)} labels but {len(p)} probabilities")
        truth = first_error(y)
        upto = len(y) if truth is None else truth + 1
        step_y += list(y[:upto])
        step_s += list(p[:upto])
        sol_y.append(truth is None)
        answer_y.append(bool(y[-1]) if len(y) else False)
        sol_s.append(solution_probability(list(p), kind))
        guess = predicted_first_error(list(p))
        if truth is None:
            n_ok += 1
            hits_ok += guess is None
        else:
            n_err += 1
            hits_err += guess == truth
    acc_err = hits_err / n_err if n_err else None
    acc_ok = hits_ok / n_ok if n_ok else None
    if acc_err is None or acc_ok is None:
        f1 = None
    else:
        f1 = 0.0 if acc_err + acc_ok == 0 else 2 * acc_err * acc_ok / (acc_err + acc_ok)
    return {
        "step_auroc": _auroc(step_y, step_s),
        "solution_auroc": _auroc(sol_y, sol_s),
        "answer_auroc": _auroc(answer_y, sol_s),
        "processbench": {"acc_erroneous": acc_err, "acc_correct": acc_ok, "f1": f1, "threshold": THRESHOLD},
        "counts": {
            "solutions": len(labels),
            "erroneous": n_err,
            "correct": n_ok,
            "steps_scored": len(step_y),
            "steps_scored_wrong": sum(not x for x in step_y),
        },
    }
