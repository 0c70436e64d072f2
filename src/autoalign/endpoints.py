"""Pre-registered endpoints: the claims a config commits to before its run, and whether they held.

A config lists its endpoints (``endpoints:``), each a number in ``metrics.json`` (a dotted path, the
same path as in ``units.json``), the direction the hypothesis expects (``greater`` or ``less`` than
``threshold``), and whether it is primary (a headline, Holm-corrected within its ``family``) or
exploratory (reported apart, uncorrected, never a headline). Because they are part of the saved
config, they cannot change once a run exists: a run folder refuses a config whose endpoints differ.

One decision rule for every endpoint, whatever its metric (a mean over items, a difference, an
AUROC, a PGR, a count), chosen before any result under it was seen: a **one-sided one-sample
t-test over seeds** (``measures.seed_t_test``). Each seed is one independent replication (every
model retrained, its own test items drawn), so its value is the unit; the spread over seeds carries
training noise and, where seeds draw their own items, each seed's item noise once. Why not the
alternatives:

- the percentile bootstrap over a handful of per-seed values it replaced gave a true null p < 0.05
  11% of the time at 5 seeds and called it held 8.8% (p = 1/(B+1) whenever every seed fell on one
  side, whatever the effect), and its seeds-then-items variant counted item noise twice
  (conservative), so a verdict depended on which code path a metric took;
- an exact sign-flip test cannot pass Holm over two endpoints at 5 seeds (its smallest p is
  1/32 = 0.031); the t-test can, and its false-positive rate at 3, 5 and 10 seeds is checked by
  simulation (``tests/test_endpoint_rule_simulation.py``) for per-seed-only and per-item metrics,
  with and without seed-to-seed variance.

Its limit (also pinned by that test): per-seed values skewed against the claim (a rate within a few
points of 0 claimed to be below a threshold near 0, an AUROC near 1 claimed above a threshold near 1)
make the t-test liberal. Put such a threshold away from the bound, or, if the quantity cannot vary by
design, declare a guarantee. Where seeds share one test set (the digits' test images) the test is
about training runs on that set, not about new items.

After the run (every seed of a fan-out, or one seed) each endpoint (``kind: hypothesis``) gets:

- ``per_seed``: its value in each seed's ``metrics.json`` (the estimate's mean, or the number);
- ``estimate``: the mean over seeds with the two-sided 95% t-interval over seeds (the same
  statistic as the test: it excludes the threshold exactly when the raw one-sided p < 0.025);
- ``test``, ``p_value``: the test's name and its one-sided p;
- ``p_holm``, ``family_size`` (primary only): Holm's step-down adjustment within the family and the
  number of primary hypotheses in it. A primary endpoint that is missing or untested enters its
  family with p = 1, so dropping one cannot buy power;
- ``held``: the (Holm-adjusted, for primary) p is below ``ALPHA`` = 0.05 and the mean over seeds is
  on the expected side of the threshold.

``status`` is ``held``, ``not held``, ``missing`` (the path is absent or not a number in some seed;
``reason`` says where it stopped) or ``untested`` (one seed, or seeds that do not vary at all: no
seed-level test; ``reason`` says which). Endpoints that did not hold are always reported.

A **guarantee** (``kind: guarantee``) is a quantity that cannot vary by design (sandbox escapes
must be 0): it is asserted on every seed (each seed's value strictly on the expected side of the
threshold), reported apart under ``guarantees`` with ``status`` ``kept``, ``broken`` (``reason``
names the seeds) or ``missing``, and never enters a Holm family or counts as a hypothesis held.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from .measures import seed_t_test
from .protocol import Section

ALPHA = 0.05
TEST = "one-sided one-sample t-test over seeds"
RULE = (
    "held: a one-sided one-sample t-test of the per-seed values against the threshold gives p below 0.05 "
    "(Holm-adjusted within its family, for primary endpoints) and the mean over seeds is on the expected side; "
    "guarantees are asserted on every seed and never counted as hypotheses"
)


class Endpoint(Section):
    """One pre-registered claim about a number in ``metrics.json``: a hypothesis, or a guarantee."""

    name: str = Field(
        min_length=1, pattern=r"^[A-Za-z0-9_-]+$", description="Short identifier (letters, digits, _ and -)."
    )
    metric: str = Field(
        min_length=1,
        pattern=r"^[^.\s]+(\.[^.\s]+)*$",
        description=(
            "Dotted path into metrics.json, starting with the protocol, e.g. "
            "best_of_n.best_of_n.arithmetic.diff.prm_vs_orm.64."
        ),
    )
    direction: Literal["greater", "less"] = Field(description="The expected side of the threshold.")
    threshold: float = Field(0.0, description="The mean over seeds (or, for a guarantee, every seed) is compared.")
    kind: Literal["hypothesis", "guarantee"] = Field(
        "hypothesis",
        description=(
            "hypothesis: tested over seeds; guarantee: cannot vary by design, asserted on every seed, "
            "reported apart and never counted as a hypothesis held."
        ),
    )
    primary: bool = Field(True, description="A headline (Holm-corrected in its family); false: exploratory.")
    family: str | None = Field(
        None, min_length=1, description="Holm family of primary endpoints (default: the protocol)."
    )
    description: str = Field("", description="What the endpoint tests, in words.")

    @property
    def family_name(self) -> str:
        return self.family or self.metric.split(".", 1)[0]


def check_endpoints(endpoints: list[Endpoint], protocols: list[str]) -> None:
    """Config-time checks: distinct names, each metric under a protocol the config runs, and no
    Holm settings on a guarantee (it is asserted, not tested)."""
    seen: dict[str, int] = {}
    for i, e in enumerate(endpoints):
        if e.name in seen:
            raise ValueError(f"endpoint {i} repeats the name {e.name!r} of endpoint {seen[e.name]}")
        seen[e.name] = i
        head = e.metric.split(".", 1)[0]
        if head not in protocols:
            raise ValueError(
                f"endpoint {e.name!r}: metric {e.metric!r} must start with a protocol this config runs "
                f"({', '.join(protocols)})"
            )
        # values, not which keys were written: a fan-out writes each seed's config with every default
        tested = [k for k, default in (("family", None), ("primary", True)) if getattr(e, k) != default]
        if e.kind == "guarantee" and tested:
            raise ValueError(
                f"endpoint {e.name!r} is a guarantee (asserted on every seed, in no Holm family): "
                f"drop {' and '.join(tested)}"
            )


# -- statistics (pure functions) ------------------------------------------------------------------


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (from 0) of m is multiplied by m - i, the results made
    non-decreasing and capped at 1. Reject where the adjusted p is below alpha.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(x) for x in out]


def judge(mean, p, threshold: float, direction: str, alpha: float = ALPHA):
    """The rule: p (Holm-adjusted, for primary) below ``alpha`` and the mean on the expected side.

    Elementwise over arrays (the simulation test judges thousands of null runs at once); a NaN p
    (no seed-level test) never holds."""
    mean, p = np.asarray(mean, dtype=float), np.asarray(p, dtype=float)
    beyond = mean > threshold if direction == "greater" else mean < threshold
    held = beyond & (p < alpha)  # NaN < alpha is False
    return (bool(held), bool(beyond)) if held.ndim == 0 else (held, beyond)


def rule_holds(per_seed, threshold: float, direction: str, alpha: float = ALPHA):
    """Whether one uncorrected endpoint holds under the rule, from its per-seed values (shape
    ``(..., n_seeds)``): the exact path ``evaluate_endpoints`` takes, vectorised for simulation."""
    test = seed_t_test(per_seed, threshold, direction)
    return judge(test["mean"], test["p"], threshold, direction, alpha)[0]


def guarantee_kept(per_seed, threshold: float, direction: str) -> bool:
    """A guarantee: every seed strictly on the expected side of the threshold."""
    x = np.asarray(per_seed, dtype=float)
    return bool(np.all(x > threshold) if direction == "greater" else np.all(x < threshold))


# -- reading metrics ------------------------------------------------------------------------------


def _lookup(tree, path: str):
    """The node at a dotted path, or ``(None, reason)``."""
    node = tree
    walked: list[str] = []
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = ".".join(walked) or "(top level)"
            keys = list(node)[:8] if isinstance(node, dict) else []
            hint = f"; keys there: {', '.join(map(str, keys))}" if keys else ""
            return None, f"no {part!r} under {where}{hint}"
        walked.append(part)
    return node, ""


def _value(node) -> tuple[float | None, str]:
    """``(value, reason)`` of a metrics node: an estimate's mean, or a number."""
    v = node["mean"] if isinstance(node, dict) and "mean" in node else node
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, "not a number or an estimate"
    if not math.isfinite(v):
        return None, "not a finite number"
    return float(v), ""


def _per_seed(e: Endpoint, per_seed_metrics: list[dict], seeds: list[int]) -> tuple[list, str]:
    """The endpoint's value in each seed, and why some are missing ("" when none is)."""
    values, reasons = [], {}
    for s, metrics in zip(seeds, per_seed_metrics):
        node, why = _lookup(metrics, e.metric)
        v, why = _value(node) if not why else (None, why)
        values.append(v)
        if v is None:
            reasons.setdefault(why, []).append(str(s))
    return values, "; ".join(f"seed{'s' if len(ss) > 1 else ''} {', '.join(ss)}: {r}" for r, ss in reasons.items())


def _entry(e: Endpoint, seeds: list[int], values: list) -> dict:
    return {
        "metric": e.metric,
        "direction": e.direction,
        "threshold": e.threshold,
        "description": e.description,
        "seeds": list(seeds),
        "per_seed": values,
    }


def _guarantee(e: Endpoint, per_seed_metrics: list[dict], seeds: list[int]) -> dict:
    values, missing = _per_seed(e, per_seed_metrics, seeds)
    entry = _entry(e, seeds, values)
    if missing:
        return {**entry, "status": "missing", "kept": None, "reason": missing}
    if guarantee_kept(values, e.threshold, e.direction):
        return {**entry, "status": "kept", "kept": True}
    wrong = [str(s) for s, v in zip(seeds, values) if not guarantee_kept([v], e.threshold, e.direction)]
    sign = "<=" if e.direction == "greater" else ">="
    return {
        **entry,
        "status": "broken",
        "kept": False,
        "reason": f"seed{'s' if len(wrong) > 1 else ''} {', '.join(wrong)}: {sign} {e.threshold:g}",
    }


def _hypothesis(e: Endpoint, per_seed_metrics: list[dict], seeds: list[int]) -> tuple[dict, float | None]:
    """One hypothesis's entry (without Holm) and its raw p (None where untested or missing)."""
    values, missing = _per_seed(e, per_seed_metrics, seeds)
    entry = {**_entry(e, seeds, values), "family": e.family_name if e.primary else None, "test": TEST}
    entry.update(estimate=None, p_value=None)
    if missing:
        return {**entry, "status": "missing", "held": None, "reason": missing}, None
    if len(values) < 2:
        entry["estimate"] = {"mean": values[0], "n": 1}
        why = "one seed: no seed-level test; run more seeds"
        return {**entry, "status": "untested", "held": None, "reason": why}, None
    t = seed_t_test(values, e.threshold, e.direction)
    if math.isnan(t["p"]):
        entry["estimate"] = {"mean": t["mean"], "n": t["n"]}
        why = f"no variation over seeds (every seed gave {values[0]:.4g}): no t-test; if it cannot vary, a guarantee"
        return {**entry, "status": "untested", "held": None, "reason": why}, None
    entry["estimate"] = {k: t[k] for k in ("mean", "ci_low", "ci_high", "sd", "n")} | {"interval": "t over seeds"}
    entry.update(t=t["t"], df=t["df"], p_value=t["p"])
    return entry, t["p"]


def evaluate_endpoints(
    endpoints: list[Endpoint],
    per_seed_metrics: list[dict],
    per_seed_units: list[dict] | None = None,
    seeds: list[int] | None = None,
    n_resamples: int | None = None,
    seed: int | None = None,
) -> dict:
    """The ``endpoints`` block of ``metrics.json``: primary, exploratory and guarantees apart.

    ``per_seed_units``, ``n_resamples`` and ``seed`` are accepted for the callers' sake and unused:
    the test is over the seeds' values (each already a mean over its own items), and draws nothing."""
    seeds = list(range(len(per_seed_metrics))) if seeds is None else list(seeds)
    primary: dict = {}
    exploratory: dict = {}
    guarantees: dict = {}
    raw: dict = {}
    for e in endpoints:
        if e.kind == "guarantee":
            guarantees[e.name] = _guarantee(e, per_seed_metrics, seeds)
            continue
        entry, raw[e.name] = _hypothesis(e, per_seed_metrics, seeds)
        (primary if e.primary else exploratory)[e.name] = entry
    families: dict[str, list[str]] = {}
    for e in endpoints:
        if e.primary and e.kind == "hypothesis":
            families.setdefault(e.family_name, []).append(e.name)
    for names in families.values():
        adjusted = holm([1.0 if raw[n] is None else raw[n] for n in names])  # missing or untested: p = 1
        for n, ph in zip(names, adjusted):
            primary[n].update(p_holm=ph if raw[n] is not None else None, family_size=len(names))
    for group, key in ((primary, "p_holm"), (exploratory, "p_value")):
        for entry in group.values():
            if "status" in entry:
                continue  # missing or untested
            held, beyond = judge(entry["estimate"]["mean"], entry[key], entry["threshold"], entry["direction"])
            entry.update(direction_holds=beyond, held=held, status="held" if held else "not held")
    return {
        "rule": RULE,
        "test": TEST,
        "alpha": ALPHA,
        "seeds": seeds,
        "primary": primary,
        "exploratory": exploratory,
        "guarantees": guarantees,
    }


def rejudge(block: dict, alpha: float) -> dict:
    """An endpoints block judged at another alpha (a registration's second attempt runs at half the
    first's): the same p-values, ``held`` and ``status`` recomputed; missing and untested unchanged."""
    if alpha == block.get("alpha", ALPHA):
        return block
    out = {**block, "alpha": alpha}
    for group, key in (("primary", "p_holm"), ("exploratory", "p_value")):
        out[group] = {}
        for name, entry in (block.get(group) or {}).items():
            if entry.get("status") in ("held", "not held"):
                held, beyond = judge(
                    entry["estimate"]["mean"], entry[key], entry["threshold"], entry["direction"], alpha
                )
                entry = {**entry, "direction_holds": beyond, "held": held, "status": "held" if held else "not held"}
            out[group][name] = entry
    return out


def without_endpoints(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "endpoints"}


def record_endpoints(store, cfg) -> dict:
    """Evaluate a single run's endpoints and add them to its ``metrics.json``; returns the metrics.
    One seed has no seed-level test: its hypotheses are ``untested``; its guarantees are checked."""
    from .runtime.store import atomic_write_json

    metrics = without_endpoints(store.metrics)
    if not cfg.endpoints:
        return metrics
    metrics["endpoints"] = evaluate_endpoints(cfg.endpoints, [metrics], [store.units], [cfg.seed])
    atomic_write_json(store.file("metrics.json"), metrics, sort_keys=False)
    return metrics


def _p_text(e: dict, primary: bool) -> str:
    if primary and e.get("p_holm") is not None:
        return f", Holm p={e['p_holm']:.3g} (p={e['p_value']:.3g}; family {e['family']} of {e['family_size']})"
    if not primary and e.get("p_value") is not None:
        return f", p={e['p_value']:.3g}"
    return ""


def summary_lines(block: dict) -> list[str]:
    """Terminal lines: one per endpoint, primary first, then exploratory, then guarantees."""
    lines = []
    for kind in ("primary", "exploratory"):
        for name, e in block.get(kind, {}).items():
            sign = ">" if e["direction"] == "greater" else "<"
            head = f"{kind} endpoint {name} ({e['metric']} {sign} {e['threshold']:g}): {e['status']}"
            est = e.get("estimate") or {}
            if "ci_low" in est:
                head += f", {est['mean']:.4g} [{est['ci_low']:.4g}, {est['ci_high']:.4g}]"
            head += _p_text(e, kind == "primary")
            if e["status"] in ("missing", "untested"):
                head += f" ({e.get('reason', '')})"
            lines.append(head)
    for name, g in block.get("guarantees", {}).items():
        sign = ">" if g["direction"] == "greater" else "<"
        head = f"guarantee {name} ({g['metric']} {sign} {g['threshold']:g} on every seed): {g['status']}"
        lines.append(head + (f" ({g['reason']})" if g.get("reason") else ""))
    return lines
