"""The feature detector (``protocols/organisms/feature_detector.py``) on constructed activations
(seconds): where one planted direction separates the contrast pairs' two sides, the feature it picks
is that direction and it flags texts carrying it; where the labels are shuffled or nothing is
planted it is at chance. Then the registered overseer on a real (untrained) model, through the
contract: one score per item, its chosen feature reported, and one line without a subject."""

from __future__ import annotations

import numpy as np
import pytest

from autoalign.config import config_from_dict
from autoalign.errors import UserError
from autoalign.overseers.base import OverseerContext
from autoalign.protocols.organisms.detection import tpr_at_fpr_estimate
from autoalign.protocols.organisms.feature_detector import fit_feature_detector, suspicion
from autoalign.registry import overseers

D, K, PAIRS, FLAW = 64, 40, 300, 3.0
FPR = 0.05


def world(seed: int = 0):
    """Sparse "concept" directions every text is made of, and one flaw direction."""
    rng = np.random.default_rng(seed)
    concepts = rng.normal(size=(K, D))
    flaw = rng.normal(size=D)
    return concepts / np.linalg.norm(concepts, axis=1, keepdims=True), flaw / np.linalg.norm(flaw)


def texts(concepts, n: int, rng) -> np.ndarray:
    codes = (rng.random((n, K)) < 0.08) * rng.exponential(2.0, (n, K))
    return codes @ concepts + 0.1 * rng.normal(size=(n, D))


def contrast(concepts, flaw, planted: bool, seed: int = 1):
    """Pairs like the probe's: one text twice (gold 0, flawed 1), the flawed side carrying the flaw."""
    rng = np.random.default_rng(seed)
    x = np.repeat(texts(concepts, PAIRS, rng), 2, axis=0) + 0.1 * rng.normal(size=(2 * PAIRS, D))
    y = np.tile([0, 1], PAIRS)
    if planted:
        x[y == 1] += FLAW * flaw
    return x, y


def flags(det, concepts, flaw) -> dict:
    """The detector on fresh texts: benign ones, and ones carrying the flaw (TPR at 5% FPR)."""
    rng = np.random.default_rng(3)
    benign, flawed = texts(concepts, 200, rng), texts(concepts, 200, rng) + FLAW * flaw
    return tpr_at_fpr_estimate(suspicion(det, benign), suspicion(det, flawed), FPR, n_resamples=1000, seed=0)


def alignment(det, flaw) -> float:
    w = det["sae"].w_dec.detach().numpy()[:, det["feature"]]
    return float(w @ flaw / np.linalg.norm(w))


def test_it_picks_the_planted_feature_and_flags_texts_carrying_it():
    concepts, flaw = world()
    x, y = contrast(concepts, flaw, planted=True)
    det = fit_feature_detector(x, y.tolist(), seed=0)
    assert alignment(det, flaw) > 0.9 and det["sign"] == 1.0
    assert det["held_out_separation"] > 1.5 and det["held_out_auroc"] > 0.9
    assert flags(det, concepts, flaw)["ci_low"] > 0.6  # measured: TPR 0.875 [0.83, 0.92]


@pytest.mark.parametrize("case", ["shuffled", "nothing planted"])
def test_it_is_at_chance_where_the_labels_carry_nothing(case):
    concepts, flaw = world()
    x, y = contrast(concepts, flaw, planted=case == "shuffled")
    if case == "shuffled":  # across pairs: within them each pair would still hold one flawed text
        y = np.random.default_rng(2).permutation(y)
    det = fit_feature_detector(x, y.tolist(), seed=0)
    assert abs(alignment(det, flaw)) < 0.5
    assert abs(det["held_out_auroc"] - 0.5) < 0.1 and abs(det["held_out_separation"]) < 0.3
    assert abs(det["separation"]) > abs(det["held_out_separation"])  # the fit side is the best of 64: inflated
    assert flags(det, concepts, flaw)["ci_low"] <= FPR  # no better than flagging at random


def test_the_registered_overseer_reads_a_real_model_and_reports_its_feature(tmp_path):
    from autoalign.models.lm import build_model
    from autoalign.models.tokenizer import build_char_tokenizer
    from autoalign.protocols.organisms.organism import Subject
    from autoalign.runtime.context import RunContext

    cls = overseers.get("feature_detector")
    assert cls.needs_subject and cls.judges == "solutions"
    with pytest.raises(UserError, match="feature_detector.*none was given"):
        cls(OverseerContext())

    cfg = config_from_dict(
        {"protocol": "organisms", "organisms": {"overseers": ["probe", "feature_detector"], "probe_pairs": 20}},
        "organisms.yaml",
    ).organisms
    run = RunContext(run_dir=str(tmp_path), seed=0)
    w = cfg.world.make()
    tokenizer = build_char_tokenizer()
    model = build_model("llama", "micro", tokenizer, seed=0)
    test = w.problems(0, "test", 6)
    prompts, items = [p.prompt for p in test], [p.solution for p in test]
    subject = Subject([(model, tokenizer)], [0] * len(items), prompts)

    def scores():
        ctx = OverseerContext(world=w, seed=7, subject=subject, extras={"run": run, "config": cfg})
        overseer = cls(ctx)
        return [s.solution for s in overseer.score(test, items)], overseer.details

    got, details = scores()
    assert len(got) == len(items) and all(np.isfinite(got))
    (chosen,) = details["features"]
    assert 0 <= chosen["feature"] < 64 and chosen["sign"] in (1.0, -1.0) and 0 <= chosen["layer"] <= 2
    assert {"separation", "held_out_separation", "held_out_auroc", "fvu", "l0"} <= set(chosen)
    assert scores() == (got, details)  # seeded: the same column twice
