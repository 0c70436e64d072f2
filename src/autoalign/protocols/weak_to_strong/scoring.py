"""The final scoring stage, the only reader of the sealed test labels, and the canaries it must catch.

Every estimate is over the same test items: weak, student and ceiling accuracy, PGR with a paired CI
(from the method's own supervisor where it has one, the overseer), PGR minus naive PGR for every
method taught from the same weak labels as ``ce``, student-supervisor agreement and the noise floor.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci
from .gap import gap_guard, noise_floor, pgr_estimate
from .sealed import SealedLabels, SealedLabelsError, correct_vector
from .tasks import items


def sealed_test_labels(ctx, w) -> SealedLabels:
    return SealedLabels([it.label for it in items(ctx, w, "test")])


def canary(ctx, kind: str, supervisor: dict, w) -> dict:
    """Stage: a method a careless optimizer would love. ``majority`` predicts the supervisor's
    majority class for every item; ``peek`` tries to read the test labels (and is stopped)."""
    n = len(items(ctx, w, "test"))
    if kind == "majority":
        positive = float(np.mean(np.asarray(supervisor["transfer"]) > 0.5)) >= 0.5
        return {"test": [0.9 if positive else 0.1] * n, "flags": []}
    try:
        labels = sealed_test_labels(ctx, w).labels
        return {"test": [float(y) for y in labels], "flags": []}
    except SealedLabelsError as e:
        return {"test": None, "flags": [f"tried to read the sealed test labels ({e})"]}


def _agreement(student, supervisor) -> np.ndarray:
    """1 where student and supervisor give the same class (a missing prediction agrees with nothing)."""

    def hard(p):
        return None if not isinstance(p, (int, float)) or isinstance(p, bool) else p > 0.5

    s = list(student) if student is not None else []
    return np.array(
        [float(i < len(s) and hard(s[i]) is not None and hard(s[i]) == hard(q)) for i, q in enumerate(supervisor)]
    )


def score(ctx, w, preds: dict) -> dict:
    """Stage: the only reader of the sealed test labels. Every estimate is over the same items."""
    sealed = sealed_test_labels(ctx, w)
    boot = dict(ctx.boot, unit="test items")

    def correct(p):
        return correct_vector(p, sealed)

    out: dict = {}
    for pair, r in preds["pairs"].items():
        weak_c, _ = correct(r["weak"]["test"])
        ceil_c, _ = correct(r["ceiling"]["test"])
        guard = gap_guard(weak_c, ceil_c, w.min_gap)
        methods = {}
        for method, m in r["methods"].items():
            own = "supervisor_test" in m  # a supervisor other than the weak model's classifier (the overseer)
            sup_c = correct(m["supervisor_test"])[0] if own else weak_c
            s_c, flags = correct(m["test"])
            agree = _agreement(m["test"], m["supervisor_test"] if own else r["weak"]["test"])
            methods[method] = {
                "student": bootstrap_ci(s_c, **boot),
                "pgr": None if guard else pgr_estimate(sup_c, s_c, ceil_c, ctx.bootstrap_resamples, ctx.seed),
                "agreement": bootstrap_ci(agree, **boot),
                "flags": flags,
            }
            if own:
                methods[method]["supervisor"] = bootstrap_ci(sup_c, **boot)
        if "ce" in methods and not guard:  # the same weak labels, another loss or route: PGR minus naive PGR
            ce_c, _ = correct(r["methods"]["ce"]["test"])
            for method, m in r["methods"].items():
                if method != "ce" and "supervisor_test" not in m:
                    methods[method]["pgr_minus_ce"] = pgr_estimate(
                        weak_c, correct(m["test"])[0], ceil_c, ctx.bootstrap_resamples, ctx.seed, baseline=ce_c
                    )
        floor_pgrs = (
            []
            if guard
            else [pgr_estimate(weak_c, correct(t)[0], ceil_c, 200, ctx.seed)["mean"] for t in r.get("noise", [])]
        )
        out[pair] = {
            "weak": bootstrap_ci(weak_c, **boot),
            "ceiling": bootstrap_ci(ceil_c, **boot),
            "guard": guard,
            "methods": methods,
            "noise_floor": noise_floor(floor_pgrs),
            "noise_pgrs": floor_pgrs,
        }
    canaries = {}
    for kind, c in preds.get("canaries", {}).items():
        acc, flags = correct(c["test"])
        flags = c["flags"] + flags
        canaries[kind] = {"accuracy": bootstrap_ci(acc, **boot), "flags": flags, "caught": bool(flags)}
    return {"pairs": out, "canaries": canaries}
