"""Ablations of the judge's hand-named features: which of them carry the protocols' results?

For each ablation the judge is refit on the same random-quote transcripts without some features
(weight 0), and the protocols are replayed on the same test questions with best-of-N debaters
that now optimise against that ablated judge. Rows: ``full`` (nothing dropped, replayed the same
way, so the rows compare like with like), ``drop_<feature>`` for each feature, and
``only_reaches`` (the judge sees only whether a shown walk reaches each answer).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ...measures import bootstrap_ci
from ...overseers.facts_judge import FEATURES, QuoteJudge
from .games import BestOfNDebater, play_protocols


def ablations() -> dict[str, tuple[str, ...]]:
    """Ablation name -> the features it drops."""
    out = {"full": ()}
    out.update({f"drop_{name}": (name,) for name in FEATURES})
    out["only_reaches"] = tuple(name for name in FEATURES if name != "reaches")
    return out


def protocol_accuracy(rows: list[dict], boot: dict) -> dict:
    """Judge accuracy per protocol (estimates over questions) from ``play_protocols`` records."""
    acc = {p: np.asarray([r[p] > 0.5 for r in rows], float) for p in ("debate", "consultancy", "blind")}
    out = {p: bootstrap_ci(v, **boot) for p, v in acc.items()}
    out["debate_minus_consultancy"] = bootstrap_ci(acc["debate"] - acc["consultancy"], **boot)
    return out


def run_ablations(
    x: np.ndarray, first_correct, questions, d, rng_for, boot: dict, which: dict[str, tuple[str, ...]] | None = None
) -> dict:
    """``x``: the judge's training features; ``rng_for(name)``: a fresh generator per ablation.
    Returns, per ablation, the refit weights and judge accuracy per protocol."""
    out = {}
    for name, drop in (which or ablations()).items():
        judge = QuoteJudge.fit_features(x, first_correct, drop=drop)
        rng = rng_for(name)
        make = partial(BestOfNDebater, judge, d.debater_strength, d.fabricate, rng)
        rows = play_protocols(questions, judge, make, rng, d.rounds)
        out[name] = {
            "dropped": list(drop),
            "weights": dict(zip(FEATURES, judge.coef.tolist())),
            **protocol_accuracy(rows, boot),
        }
    return out
