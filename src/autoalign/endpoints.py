"""Pre-registered endpoints: the claims a config commits to before its run, and whether they held.

A config lists its endpoints (``endpoints:``), each a number in ``metrics.json`` (a dotted path, the
same path as in ``units.json``), the direction the hypothesis expects (``greater`` or ``less`` than
``threshold``), and whether it is primary (a headline, Holm-corrected within its ``family``) or
exploratory (reported apart, uncorrected, never a headline). Because they are part of the saved
config, they cannot change once a run exists: a run folder refuses a config whose endpoints differ.

After the run (one seed, or every seed of a fan-out) each endpoint gets:

- ``per_seed``: its value in each seed's ``metrics.json`` (the estimate's mean, or the number);
- ``estimate``: the mean over seeds with a 95% percentile CI from a bootstrap that resamples seeds
  and then problems within seeds where the runs recorded per-problem values (``units.json``), or
  seeds alone where they did not (AUROC, Elo). These are the same draws as the fan-out's pooled
  estimate, so the two agree exactly; with one seed it is a bootstrap over problems;
- ``p_value``: one-sided, read off that same bootstrap distribution: the share of resampled
  estimates not beyond the threshold in the expected direction, ``(k + 1) / (B + 1)``;
- ``p_holm`` (primary only): Holm's step-down adjustment within the family. A primary endpoint
  that is missing or untestable enters its family with p = 1, so dropping one cannot buy power;
- ``held``: true when the point estimate is on the expected side of the threshold, the 95% CI
  excludes the threshold, and the (Holm-adjusted, for primary) p is below ``ALPHA`` = 0.05. With a
  single endpoint in a family the CI condition is the binding one (it implies p < about 0.025).

``status`` is ``held``, ``not held``, ``missing`` (the path is absent or not a number in some seed;
``reason`` says where it stopped) or ``untested`` (one seed and no per-problem values: no
distribution to test against; run more seeds). Endpoints that did not hold are always reported.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from .measures import hierarchical_resamples, mean_resamples
from .protocol import Section

ALPHA = 0.05
RULE = (
    "held: the estimate is on the expected side of the threshold, its 95% CI excludes the threshold, and "
    "its one-sided bootstrap p (Holm-adjusted within its family, for primary endpoints) is below 0.05"
)


class Endpoint(Section):
    """One pre-registered hypothesis about a number in ``metrics.json``."""

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
    threshold: float = Field(0.0, description="The pooled estimate is compared with this value.")
    primary: bool = Field(True, description="A headline (Holm-corrected in its family); false: exploratory.")
    family: str | None = Field(
        None, min_length=1, description="Holm family of primary endpoints (default: the protocol)."
    )
    description: str = Field("", description="What the endpoint tests, in words.")

    @property
    def family_name(self) -> str:
        return self.family or self.metric.split(".", 1)[0]


def check_endpoints(endpoints: list[Endpoint], protocols: list[str]) -> None:
    """Config-time checks: distinct names, and each metric under a protocol the config runs."""
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


def bootstrap_p(resampled: np.ndarray, threshold: float, direction: str) -> float:
    """One-sided p that the statistic is beyond ``threshold`` in ``direction``: the share of
    bootstrap estimates not beyond it, with the add-one correction ``(k + 1) / (B + 1)``."""
    stats = np.asarray(resampled, dtype=float)
    k = int(np.sum(stats <= threshold)) if direction == "greater" else int(np.sum(stats >= threshold))
    return (k + 1) / (stats.size + 1)


def judge(
    mean: float, ci_low: float, ci_high: float, p: float, threshold: float, direction: str, alpha: float = ALPHA
) -> dict:
    """Whether one endpoint held (see the module docstring for the rule)."""
    beyond = mean > threshold if direction == "greater" else mean < threshold
    excludes = ci_low > threshold if direction == "greater" else ci_high < threshold
    return {
        "direction_holds": bool(beyond),
        "ci_excludes_threshold": bool(excludes),
        "held": bool(beyond and excludes and p < alpha),
    }


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


def _value(node) -> tuple[float | None, dict | None, str]:
    """``(value, estimate or None, reason)`` of a metrics node."""
    if isinstance(node, dict) and "mean" in node:
        v = node["mean"]
        est = node if {"ci_low", "ci_high"} <= set(node) else None
    else:
        v, est = node, None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, None, "not a number or an estimate"
    if not math.isfinite(v):
        return None, None, "not a finite number"
    return float(v), est, ""


def _one(
    e: Endpoint, per_seed_metrics: list[dict], per_seed_units: list[dict], seeds: list[int], n_resamples: int, seed: int
) -> tuple[dict, float | None]:
    """One endpoint's entry (without Holm) and its raw p (None where untested or missing)."""
    entry: dict = {
        "metric": e.metric,
        "direction": e.direction,
        "threshold": e.threshold,
        "family": e.family_name if e.primary else None,
        "description": e.description,
        "seeds": list(seeds),
        "per_seed": [],
        "estimate": None,
        "p_value": None,
    }
    values, estimates, reasons = [], [], {}
    for s, metrics in zip(seeds, per_seed_metrics):
        node, reason = _lookup(metrics, e.metric)
        v, est, why = _value(node) if not reason else (None, None, reason)
        values.append(v)
        estimates.append(est)
        if v is None:
            reasons.setdefault(why, []).append(str(s))
    entry["per_seed"] = values
    if reasons:
        why = "; ".join(f"seed{'s' if len(ss) > 1 else ''} {', '.join(ss)}: {r}" for r, ss in reasons.items())
        return {**entry, "status": "missing", "held": None, "reason": why}, None
    units = [u.get(e.metric) for u in per_seed_units]
    if all(u for u in units):
        point, stats = hierarchical_resamples(units, n_resamples, seed)
        resampled = "seeds>problems" if len(seeds) > 1 else "problems"
        n = len(seeds) if len(seeds) > 1 else len(units[0])
    elif len(seeds) > 1:
        point, stats = mean_resamples(values, n_resamples, seed)
        resampled, n = "seeds", len(seeds)
    else:
        est = estimates[0]
        if est is not None:
            entry["estimate"] = {k: est[k] for k in ("mean", "ci_low", "ci_high", "n", "resampled") if k in est}
        return {
            **entry,
            "status": "untested",
            "held": None,
            "reason": "one seed and no per-problem values: no bootstrap distribution; run more seeds",
        }, None
    tail = (1 - 0.95) / 2  # as in measures.py, to the last bit
    lo, hi = np.quantile(stats, [tail, 1 - tail])
    entry["estimate"] = {"mean": point, "ci_low": float(lo), "ci_high": float(hi), "n": n, "resampled": resampled}
    p = bootstrap_p(stats, e.threshold, e.direction)
    entry["p_value"] = p
    return entry, p


def evaluate_endpoints(
    endpoints: list[Endpoint],
    per_seed_metrics: list[dict],
    per_seed_units: list[dict],
    seeds: list[int],
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """The ``endpoints`` block of ``metrics.json``: primary and exploratory endpoints apart."""
    primary: dict = {}
    exploratory: dict = {}
    raw: dict = {}
    for e in endpoints:
        entry, p = _one(e, per_seed_metrics, per_seed_units, seeds, n_resamples, seed)
        raw[e.name] = p
        (primary if e.primary else exploratory)[e.name] = entry
    families: dict[str, list[str]] = {}
    for e in endpoints:
        if e.primary:
            families.setdefault(e.family_name, []).append(e.name)
    for names in families.values():
        adjusted = holm([1.0 if raw[n] is None else raw[n] for n in names])  # missing or untested: p = 1
        for n, ph in zip(names, adjusted):
            entry = primary[n]
            entry["p_holm"] = ph if raw[n] is not None else None
            entry["family_size"] = len(names)
    for group, key in ((primary, "p_holm"), (exploratory, "p_value")):
        for entry in group.values():
            if entry.get("status") in ("missing", "untested"):
                continue
            est = entry["estimate"]
            entry.update(
                judge(est["mean"], est["ci_low"], est["ci_high"], entry[key], entry["threshold"], entry["direction"])
            )
            entry["status"] = "held" if entry["held"] else "not held"
    return {"rule": RULE, "alpha": ALPHA, "seeds": list(seeds), "primary": primary, "exploratory": exploratory}


def without_endpoints(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "endpoints"}


def record_endpoints(store, cfg) -> dict:
    """Evaluate a single run's endpoints and add them to its ``metrics.json``; returns the metrics."""
    from .runtime.store import atomic_write_json

    metrics = without_endpoints(store.metrics)
    if not cfg.endpoints:
        return metrics
    metrics["endpoints"] = evaluate_endpoints(
        cfg.endpoints, [metrics], [store.units], [cfg.seed], cfg.bootstrap_resamples, cfg.seed
    )
    atomic_write_json(store.file("metrics.json"), metrics, sort_keys=False)
    return metrics


def summary_lines(block: dict) -> list[str]:
    """Terminal lines: one per endpoint, primary first."""
    lines = []
    for kind in ("primary", "exploratory"):
        for name, e in block.get(kind, {}).items():
            sign = ">" if e["direction"] == "greater" else "<"
            head = f"{kind} endpoint {name} ({e['metric']} {sign} {e['threshold']:g}): {e['status']}"
            est = e.get("estimate")
            if est and "ci_low" in est:
                head += f", {est['mean']:.4g} [{est['ci_low']:.4g}, {est['ci_high']:.4g}]"
            p = e.get("p_holm") if kind == "primary" else e.get("p_value")
            if p is not None:
                head += f", {'Holm ' if kind == 'primary' else ''}p={p:.3g}"
            if e["status"] in ("missing", "untested"):
                head += f" ({e.get('reason', '')})"
            lines.append(head)
    return lines
