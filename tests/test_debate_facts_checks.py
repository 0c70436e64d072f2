"""Checks on the facts judge (issue #11): calibration, log-loss and p(correct), feature ablations,
split disjointness, the whole-proof count and the planning debater, each on constructed cases."""

from types import SimpleNamespace

import numpy as np
import pytest

from autoalign.overseers.facts_judge import FEATURES, QuoteJudge
from autoalign.protocols.debate_facts import (
    DebateFactsConfig,
    calibrate,
    calibration_questions,
    judge_questions,
    random_transcript,
)
from autoalign.protocols.debate_facts import test_questions as facts_test_questions
from autoalign.protocols.debate_facts.ablation import run_ablations
from autoalign.protocols.debate_facts.calibration import fit_platt, log_loss, scores, to_correct
from autoalign.protocols.debate_facts.games import BestOfNDebater
from autoalign.protocols.debate_facts.planning import LookaheadDebater
from autoalign.protocols.debate_facts.proof import proof_lines, shows_proof
from autoalign.protocols.debate_facts.roles import DebaterView
from autoalign.records import Argument
from autoalign.worlds import make_world
from autoalign.worlds.facts import FactsConfig, generate

BOOT = {"n_resamples": 200, "seed": 0, "unit": "questions"}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _verdicts(n=4000, seed=0):
    """True log-odds z that answer 0 is right, the truth drawn from them, and the index of the right answer."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    first = rng.random(n) < _sigmoid(z)
    return z, first, np.where(first, 0, 1)


def test_calibration_tames_an_overconfident_judge_and_leaves_a_calibrated_one_alone():
    z, first, correct = _verdicts()
    cal, test = slice(0, 2000), slice(2000, None)
    over, honest = _sigmoid(4 * z), _sigmoid(z)
    m = fit_platt(over[cal], first[cal])
    assert m.slope == pytest.approx(0.25, abs=0.05) and abs(m.intercept) < 0.15
    raw, fixed = (log_loss(to_correct(p, correct[test])).mean() for p in (over[test], m(over[test])))
    assert fixed < raw - 0.1  # the over-confident judge's log-loss falls
    acc = [(to_correct(p, correct[test]) > 0.5).mean() for p in (over[test], m(over[test]))]
    assert acc[0] == acc[1]  # a rescaled logit, no intercept: the verdicts are exactly the same
    assert m.intercept == 0.0
    m = fit_platt(honest[cal], first[cal])
    assert m.slope == pytest.approx(1.0, abs=0.15) and abs(m.intercept) < 0.15
    raw, fixed = (log_loss(to_correct(p, correct[test])).mean() for p in (honest[test], m(honest[test])))
    assert abs(fixed - raw) < 0.01


def test_calibration_ignores_a_position_bias_that_an_intercept_would_learn():
    """Which answer is listed first is random: a map with an intercept would learn the sample's
    position noise and flip verdicts at 0.5 (as a dishonest consultant's were); temperature
    scaling cannot."""
    rng = np.random.default_rng(5)
    first = rng.random(400) < 0.6  # a sample where answer 0 happens to be right more often
    p = np.full(400, 0.5)
    p[:50] = np.where(first[:50], 0.7, 0.3)
    m = fit_platt(p, first)
    assert m.intercept == 0.0 and (m(p[50:]) == 0.5).all()


def test_calibration_never_turns_a_judge_around_and_a_coin_flip_is_half_right():
    """A blind judge's verdicts sit within 1e-3 of 0.5; a fit on that noise may find a negative
    slope, which would invert the verdicts (seed runs scored a calibrated blind judge 19%)."""
    from autoalign.protocols.debate_facts.calibration import scores

    rng = np.random.default_rng(2)
    first = rng.random(400) < 0.5
    p = 0.5 + np.where(first, -1e-4, 1e-4)  # noise that happens to point the wrong way
    m = fit_platt(p, first)
    assert m.slope == 0.0 and (m(p) == 0.5).all()
    assert scores(m(p), BOOT)["accuracy"]["mean"] == 0.5


def test_calibration_fits_one_map_per_protocol_on_calibration_rows_only():
    z, _, correct = _verdicts()
    rows = [
        {
            "question": SimpleNamespace(correct=int(c)),
            "consultant_honest": i % 2 == 0,
            "debate": float(to_correct(_sigmoid(4 * zi), c)),  # over-confident in debate
            "consultancy": float(to_correct(_sigmoid(zi), c)),  # calibrated in consultancy
            "blind": 0.5,
        }
        for i, (zi, c) in enumerate(zip(z, correct))
    ]
    out = calibrate(rows[2000:], rows[:2000], BOOT)
    assert out["questions"] == 2000
    assert out["maps"]["debate"]["slope"] == pytest.approx(0.25, abs=0.05)
    assert out["maps"]["consultancy"]["slope"] == pytest.approx(1.0, abs=0.15)
    raw, cal = out["raw"], out["calibrated"]
    assert cal["debate"]["log_loss"]["mean"] < raw["debate"]["log_loss"]["mean"] - 0.1
    assert cal["consultancy"]["log_loss"]["mean"] == pytest.approx(raw["consultancy"]["log_loss"]["mean"], abs=0.01)
    assert cal["blind"]["log_loss"]["mean"] == pytest.approx(np.log(2), abs=0.01)
    d = out["calibrated_diff"]["debate_minus_consultancy"]
    assert d["mean"] == pytest.approx(
        cal["debate"]["mean_p_correct"]["mean"] - cal["consultancy"]["mean_p_correct"]["mean"]
    )
    assert len(d["_units"]) == 2000  # per-question values, so seeds pool


def test_log_loss_and_mean_p_correct_on_a_hand_made_case():
    p = np.array([0.9, 0.5, 0.2, 1.0])
    assert log_loss(p) == pytest.approx([-np.log(0.9), np.log(2), -np.log(0.2), 0.0], abs=1e-5)
    assert np.isfinite(log_loss([0.0])).all() and log_loss([0.0])[0] == pytest.approx(-np.log(1e-6))
    s = scores(p, BOOT)
    assert s["accuracy"]["mean"] == 0.625  # a verdict of exactly 0.5 is a coin flip: half right
    assert s["mean_p_correct"]["mean"] == pytest.approx(0.65)
    assert s["log_loss"]["mean"] == pytest.approx((-np.log(0.9) + np.log(2) - np.log(0.2)) / 4, abs=1e-5)
    assert to_correct([0.8, 0.8], [0, 1]) == pytest.approx([0.8, 0.2])


def test_dropping_a_decisive_feature_hurts_and_an_irrelevant_one_does_not():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, len(FEATURES)))
    y = x[:, FEATURES.index("reaches")] > 0  # only "reaches" decides
    train, test = slice(0, 1000), slice(1000, None)

    def acc(drop):
        j = QuoteJudge.fit_features(x[train], y[train], drop=drop)
        return (((x[test] @ j.coef + j.intercept) > 0) == y[test]).mean()

    assert acc(()) > 0.95 and acc(("mentioned",)) > 0.95
    assert acc(("reaches",)) < 0.6
    j = QuoteJudge.fit_features(x, y, drop=("reaches", "rejected"))
    assert j.coef[FEATURES.index("reaches")] == 0 and j.coef[FEATURES.index("rejected")] == 0
    with pytest.raises(ValueError):
        QuoteJudge.fit_features(x, y, drop=("no_such_feature",))


def test_replayed_ablations_separate_a_blind_judge_from_the_full_one():
    qs = generate(3, 280, FactsConfig(hops=3, distractors=8))
    train, test = qs[:200], qs[200:]
    rng = np.random.default_rng(0)
    from autoalign.overseers.facts_judge import judge_features

    x = np.stack([judge_features(random_transcript(q, 3, 0.3, rng)) for q in train])
    d = SimpleNamespace(debater_strength=8, fabricate=0.3, rounds=3)
    out = run_ablations(
        x,
        [q.correct == 0 for q in train],
        test,
        d,
        lambda name: np.random.default_rng(1),
        BOOT,
        which={"full": (), "everything": tuple(FEATURES), "drop_mentioned": ("mentioned",)},
    )
    assert out["full"]["debate"]["mean"] > out["everything"]["debate"]["mean"] + 0.15
    assert abs(out["full"]["debate"]["mean"] - out["drop_mentioned"]["debate"]["mean"]) < 0.12
    assert out["everything"]["weights"] == {f: 0.0 for f in FEATURES}


def test_calibration_never_uses_judge_or_test_questions():
    d = DebateFactsConfig(judge_train_questions=300, test_questions=100, calibration_questions=100)
    world = make_world("facts", d.facts)
    ids = {
        name: {world.identity(q) for q in qs}
        for name, qs in (
            ("judge", judge_questions(0, d)),
            ("test", facts_test_questions(SimpleNamespace(seed=0), d)),
            ("calibration", calibration_questions(0, d)),
        )
    }
    assert len(ids["calibration"]) == 100 and len(ids["test"]) == 100
    assert not ids["calibration"] & ids["test"] and not ids["calibration"] & ids["judge"]
    assert not ids["judge"] & ids["test"]
    assert {world.split_of(q) for q in calibration_questions(0, d)} == {"val"}


def test_whole_proof_needs_every_link_verified():
    q = generate(5, 1, FactsConfig(hops=3, distractors=8))[0]
    lines = sorted(proof_lines(q))
    assert len(lines) == 3
    proof = tuple(Argument(q.correct, line, True) for line in lines)
    assert shows_proof(q, proof)
    assert not shows_proof(q, proof[:2])
    assert not shows_proof(q, proof[:2] + (Argument(q.correct, lines[2], False),))
    assert shows_proof(q, proof[:2] + (Argument(1 - q.correct, lines[2], True),))  # either side may show it


class _TableJudge:
    """p(answer 0): quote a alone 0.9, but 0.1 once b is also said; quote c 0.7 whatever follows."""

    def __init__(self, a, b, c):
        self.a, self.b, self.c = a, b, c

    def prob_first(self, view):
        said = {arg.quote for arg in view.arguments}
        if self.a in said:
            return 0.1 if self.b in said else 0.9
        return 0.7 if self.c in said else 0.5


def test_lookahead_debater_avoids_a_quote_that_is_easy_to_answer():
    q = generate(5, 1, FactsConfig(hops=3, distractors=8))[0]
    a, b, c = (f.line for f in q.story[:3])
    judge, n = _TableJudge(a, b, c), len(q.story)  # n: every line is a candidate, for both sides
    view = DebaterView(q, 0)
    assert BestOfNDebater(judge, n, 0.0, np.random.default_rng(0)).argue(view) == a
    assert LookaheadDebater(judge, n, 0.0, np.random.default_rng(0), turns=6).argue(view) == c
    assert LookaheadDebater(judge, n, 0.0, np.random.default_rng(0), turns=1).argue(view) == a  # no reply left
