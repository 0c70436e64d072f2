import numpy as np

from autoalign.protocols.best_of_n.active_learning import data_efficiency, equivalent_budget
from autoalign.protocols.best_of_n.reranking import Pool, best_of_n


def make_pools(n=40, m=32, seed=0):
    rng = np.random.default_rng(seed)
    pools = []
    for _ in range(n):
        correct = rng.random(m) < 0.3
        answers = [7 if c else int(rng.integers(0, 3)) for c in correct]
        pools.append(
            Pool(
                correct,
                answers,
                {
                    "oracle": np.where(correct, 0.0, -5.0) + rng.random(m) * 0.01,
                    "prm": np.log(np.where(correct, 0.9, 0.1)),
                    "random": rng.random(m),
                },
            )
        )
    return pools


def test_n1_is_mean_accuracy_for_every_method_and_oracle_is_pass_at_n():
    pools = make_pools()
    r = best_of_n(pools, [1, 4, 32], subsets=400, seed=1)
    base = np.mean([p.correct.mean() for p in pools])
    for method in r:
        assert abs(r[method][1].mean() - base) < 0.03, method
    for n in (4, 32):
        np.testing.assert_allclose(r["oracle"][n], r["pass_at_n"][n])
    assert r["random"][32].mean() < r["majority"][32].mean() < r["oracle"][32].mean() + 1e-9


def test_weighted_vote_survives_tiny_probabilities():
    pools = make_pools()
    for p in pools:
        p.scores["prm"] = p.scores["prm"] * 500  # products of many small step probabilities
    r = best_of_n(pools, [1], subsets=400, seed=2)
    assert abs(r["weighted_vote"][1].mean() - r["prm"][1].mean()) < 0.03


def test_majority_finds_a_plurality_answer_and_weighted_vote_uses_prm():
    # 3 correct answers "1", 5 wrong answers spread over 5 values: majority wins with 3 votes
    correct = np.array([True] * 3 + [False] * 5)
    pool = Pool(correct, [1, 1, 1, 2, 3, 4, 5, 6], {"prm": np.log(np.where(correct, 0.2, 0.8))})
    r = best_of_n([pool], [8], subsets=10)
    assert r["majority"][8][0] == 1.0 and r["prm"][8][0] == 0.0
    # weighted: answer 1 has 3 x 0.2 = 0.6, each wrong answer 0.8: a wrong answer wins
    assert r["weighted_vote"][8][0] == 0.0
    pool = Pool(correct, [1, 1, 1, 2, 2, 2, 2, 2], {"prm": np.log(np.where(correct, 0.9, 0.1))})
    r = best_of_n([pool], [8], subsets=10)
    assert r["majority"][8][0] == 0.0 and r["weighted_vote"][8][0] == 1.0


def test_data_efficiency_interpolates_the_uniform_curve():
    budgets = [100, 200, 400, 800]
    eq, bound = equivalent_budget(budgets, [0.1, 0.2, 0.3, 0.4], 0.25)
    assert abs(eq - np.sqrt(200 * 400)) < 1e-6 and not bound
    assert equivalent_budget(budgets, [0.1, 0.2, 0.3, 0.4], 0.9) == (800.0, True)
    uniform = np.array([[0.1], [0.2], [0.3], [0.4]])
    active = np.array([[0.1], [0.3], [0.4], [0.4]])  # active at 200 = uniform at 400, etc.
    factor, bound = data_efficiency(budgets, uniform, active)
    assert abs(factor - 2.0) < 1e-9 and not bound


def test_weighted_vote_gives_a_minus_infinity_score_no_weight_and_no_nan():
    """An empty sample scores -inf under every verifier; a subset of only such samples has no winner."""
    import warnings

    pools = [
        Pool(
            correct=np.array([False, True, True]), answers=[None, 5, 5], scores={"prm": np.array([-np.inf, -1.0, -2.0])}
        ),
        Pool(correct=np.array([False, False]), answers=[None, None], scores={"prm": np.array([-np.inf, -np.inf])}),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = best_of_n(pools, [1, 2], subsets=50, seed=0)
    assert out["weighted_vote"][2][0] > 0.5 and out["weighted_vote"][2][1] == 0.0
