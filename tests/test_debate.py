"""Debate: the quote checker, the precommit rule, the search, Elo, and judges that beat chance."""

import numpy as np
import pytest
import torch

from autoalign.measures import elo_ratings
from autoalign.overseers.facts_judge import QuoteJudge
from autoalign.overseers.pixel_judge import judge_logits, random_masks, train_pixel_judge
from autoalign.protocols.debate_digits import precommit_wins
from autoalign.protocols.debate_digits.pixel_search import _uct_game, honest_margin
from autoalign.protocols.debate_facts import BestOfNDebater, debate, fabricated_line, random_transcript
from autoalign.records import Argument, JudgeView
from autoalign.worlds.digits import load_digits_split
from autoalign.worlds.facts import FactsConfig, check_quote, generate, parse_fact, walk


@pytest.fixture(scope="module")
def questions():
    return generate(7, 300, FactsConfig(hops=3, distractors=8))


def test_quote_checker_accepts_verbatim_and_rejects_fabrication(questions):
    q = questions[0]
    line = q.story[3].line
    assert check_quote(q, line) == q.story[3] and check_quote(q, f"  {line}\n") == q.story[3]
    fake = fabricated_line(q, 1 - q.correct, np.random.default_rng(0))
    assert fake and check_quote(q, fake) is None  # a lie that would link the start to the wrong end
    for bad in [line[:-3], line.upper(), line + " " + line, "", None, 42, "a leads to b leads to c."]:
        assert check_quote(q, bad) is None
    assert parse_fact("bex leads to tol.").target == "tol" and parse_fact("bex leads to") is None


def test_story_walk_has_the_answer(questions):
    for q in questions[:50]:
        links = {f.source: f.target for f in q.story}
        assert walk(links, q.start, q.hops)[-1] == q.answers[q.correct]
        assert len({f.source for f in q.story}) == len(q.story)  # one link out of each room


def test_precommit_rule_needs_every_lie_beaten():
    won = np.ones((3, 9, 2), dtype=bool)
    won[1, 4, 0] = False  # one lie wins when the liar moves second
    won[2, :, :] = False
    won[2, :, 1] = True  # wins every lie, but only when moving second
    assert precommit_wins(won).tolist() == [1.0, 0.5, 0.5]
    logits = torch.tensor([[0.0, 2.0, 1.0, 3.0]])
    truth = torch.tensor([1])
    assert honest_margin(logits, truth, torch.tensor([2])).item() == 1.0  # truth vs the precommitted lie
    assert honest_margin(logits, truth, torch.tensor([-1])).item() == -1.0  # no precommit: vs the best other


def test_tree_search_plays_both_sides():
    # Four pixels, two revealed, honest moves first. Honest wins iff both 0 and 1 are revealed:
    # a searching liar refuses to reveal 1. If either suffices, honest reveals one and wins.
    both = {a | b: bool(a | b == 0b11) for a in (1, 2, 4, 8) for b in (1, 2, 4, 8) if a != b}
    either = {a | b: bool((a | b) & 0b11) for a in (1, 2, 4, 8) for b in (1, 2, 4, 8) if a != b}
    rng = np.random.default_rng(0)
    assert _uct_game(both, 4, 2, True, 60, 1.0, rng)[0] is False
    won, order = _uct_game(either, 4, 2, True, 60, 1.0, rng)
    assert won and order[0] in (0, 1)
    # Liar first: it takes one of 0/1 away... but cannot stop the honest from taking the other.
    assert _uct_game(either, 4, 2, False, 60, 1.0, rng)[0] is True


def test_pixel_judge_beats_chance():
    split = load_digits_split(0)
    judge, history = train_pixel_judge(split.train_x, split.train_y, k=6, steps=300, batch_size=256, lr=3e-3, seed=0)
    assert history[-1] < history[0]
    g = torch.Generator().manual_seed(0)
    x = torch.from_numpy(split.test_x)
    acc = (judge_logits(judge, random_masks(x, 6, g), x).argmax(-1).numpy() == split.test_y).mean()
    assert acc > 0.3  # chance is 0.1


def test_quote_judge_beats_chance_and_catches_fabrication(questions):
    rng = np.random.default_rng(0)
    train, test = questions[:200], questions[200:]
    judge = QuoteJudge.fit([random_transcript(q, 3, 0.3, rng) for q in train], [q.correct == 0 for q in train])
    correct = [(judge.prob_first(random_transcript(q, 3, 0.3, rng)) > 0.5) == (q.correct == 0) for q in test]
    assert np.mean(correct) > 0.6
    q = test[0]
    links = {f.source: f.target for f in q.story}
    rooms = walk(links, q.start, q.hops)
    proof = tuple(Argument(q.correct, f"{a} leads to {b}.", True) for a, b in zip(rooms, rooms[1:]))
    p_first = judge.prob_first(JudgeView(q.start, q.hops, q.answers, proof))
    assert (p_first > 0.75) if q.correct == 0 else (p_first < 0.25)  # a shown walk convinces it
    # Strong debaters: the honest side wins most debates against an equally strong liar.
    wins = [
        debate(q, judge, BestOfNDebater(judge, 16, 0.3, rng), BestOfNDebater(judge, 16, 0.3, rng), 3, True)[0] > 0.5
        for q in test
    ]
    assert np.mean(wins) > 0.75


def test_elo_orders_players():
    rng = np.random.default_rng(0)
    skill = np.array([0.0, 1.0, 2.0])
    a, b, w = [], [], []
    for _ in range(600):
        i, j = rng.choice(3, 2, replace=False)
        a.append(i), b.append(j), w.append(rng.random() < 1 / (1 + np.exp(-(skill[i] - skill[j]))))
    elo = elo_ratings(a, b, w, 3, n_resamples=50)
    r = [e["mean"] for e in elo["ratings"]]
    assert r[0] < r[1] < r[2] and abs(np.mean(r) - 1000) < 1e-6
    assert elo["ratings"][2]["ci_low"] > elo["ratings"][0]["ci_high"]


def _run(tmp_path, config, overrides):
    from autoalign.config import load_config
    from autoalign.orchestration import execute, open_run

    cfg = load_config(config, ["bootstrap_resamples=200", *overrides])
    store, _ = open_run(cfg, tmp_path / "run")
    metrics = execute(store, cfg)
    return next(iter(metrics.values())), store


def test_digits_debate_run_lifts_the_judge(tmp_path):
    metrics, store = _run(
        tmp_path,
        "configs/debate_digits.yaml",
        [
            "debate_digits.ks=[4]",
            "debate_digits.judge_steps=600",
            "debate_digits.test_images=40",
            "debate_digits.mcts_simulations=12",
            "debate_digits.random_draws=5",
        ],
    )
    d = metrics["debate"]["k4"]
    for key in ("judge_random", "honest_win", "honest_win_greedy", "honest_win_no_precommit", "lift"):
        assert set(d[key]) >= {"mean", "ci_low", "ci_high"}
    assert d["honest_win"]["mean"] > d["judge_random"]["mean"] + 0.15
    assert "Sparse-pixel debate" in store.file("report.html").read_text()


def test_facts_run_has_protocols_and_elo(tmp_path):
    metrics, store = _run(
        tmp_path,
        "configs/debate_facts.yaml",
        [
            "debate_facts.judge_train_questions=800",
            "debate_facts.test_questions=120",
            "debate_facts.tournament_strengths=[1,16]",
            "debate_facts.tournament_questions=60",
        ],
    )
    f = metrics["facts"]
    assert f["debate"]["mean"] > f["blind"]["mean"] + 0.1
    assert [r["strength"] for r in f["elo"]] == [1, 16]
    assert f["elo"][1]["elo"]["mean"] > f["elo"][0]["elo"]["mean"]
    assert "consultancy" in store.file("report.html").read_text()
    # Issue #11: the calibrated judge, the whole-proof share, ablations, planning and long walks.
    cal = f["calibration"]
    for proto in ("debate", "consultancy", "consultancy_dishonest", "blind"):
        for kind in ("raw", "calibrated"):
            assert set(cal[kind][proto]) == {"accuracy", "mean_p_correct", "log_loss"}
    assert set(cal["calibrated_diff"]) == {"debate_minus_consultancy", "consultancy_minus_blind"}
    assert 0 <= f["proof_shown"]["debate"]["mean"] <= 1
    assert set(f["ablation"]) >= {"full", "drop_reaches", "only_reaches"}
    assert set(f["planning"]) == {"greedy", "honest_plans", "liar_plans", "both_plan"}
    assert f["long_walk"]["hops"] == 5
    html = store.file("report.html").read_text()
    assert "Calibrated judge" in html and "Judge feature ablations" in html and "Whole proof shown" in html
