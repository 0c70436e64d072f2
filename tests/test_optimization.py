"""Policy optimization against overseers (``autoalign.optimization``): it climbs a constructed reward
(and does not when its learning rate is zero, so the climb is the optimizer's doing), it finds a
constructed proxy's planted blind spot (proxy up, gold down), rewards cannot reach the gold reward
(a planted leak through the checker, a gold answer or a registered overseer is caught; without the
seal the same leak runs), and the pieces (leave-one-out advantages, majority reward, Gao fits, the
cross-fitted drop from the peak) compute what they say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoalign.models import build_char_tokenizer, build_model
from autoalign.optimization.expert_iteration import ExpertIterationConfig, expert_iteration, picks
from autoalign.optimization.fit import fit_form
from autoalign.optimization.gold import BlindProblem, GoldLeak, SealedWorld, blind
from autoalign.optimization.rewards import majority_reward
from autoalign.optimization.rloo import RLConfig, leave_one_out, rloo
from autoalign.registry import worlds


def share(texts, chars: str) -> np.ndarray:
    return np.array([sum(c in chars for c in t) / max(1, len(t)) for t in texts])


def micro_policy(seed: int = 0):
    tokenizer = build_char_tokenizer()
    torch.manual_seed(seed)
    return (
        build_model("llama", "micro", tokenizer, seed=seed),
        build_model("llama", "micro", tokenizer, seed=seed),
        tokenizer,
    )


PROMPTS = [BlindProblem(f"Q:{a}+{b}\nA:") for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]]


def run_rloo(reward, lr: float, steps: int = 40, kl_coef: float = 0.0, seed: int = 0):
    policy, reference, tokenizer = micro_policy(seed)
    cfg = RLConfig(
        steps=steps,
        prompts_per_step=4,
        samples_per_prompt=8,
        lr=lr,
        kl_coef=kl_coef,
        max_new_tokens=8,
        measure_every=steps,
    )
    texts_at: list = []

    def measure() -> dict:
        problems = [p for p in PROMPTS for _ in range(16)]
        from autoalign.optimization.policy import sample

        texts, _ = sample(policy, tokenizer, [p.prompt for p in problems], 1.0, 8, seed=123)
        texts_at.append(texts)
        return {"reward": float(np.mean(reward(problems, texts)))}

    out = rloo(policy, reference, tokenizer, lambda step: PROMPTS, reward, cfg, seed=seed, measure=measure)
    return out, texts_at


def sevens(problems, texts):
    return share(texts, "7")


def test_rloo_climbs_a_constructed_reward_and_a_zero_learning_rate_does_not():
    out, _ = run_rloo(sevens, lr=3e-3)
    first, last = out["checkpoints"][0]["reward"], out["checkpoints"][-1]["reward"]
    assert last > first + 0.3, (first, last)
    frozen, _ = run_rloo(sevens, lr=1e-12)
    assert abs(frozen["checkpoints"][-1]["reward"] - frozen["checkpoints"][0]["reward"]) < 0.05


def test_expert_iteration_climbs_a_constructed_reward():
    policy, _, tokenizer = micro_policy(1)
    cfg = ExpertIterationConfig(
        rounds=3,
        prompts_per_round=32,
        samples_per_prompt=8,
        finetune_steps=15,
        batch_size=16,
        lr=3e-3,
        max_new_tokens=8,
    )
    from autoalign.optimization.policy import sample

    def measure() -> dict:
        texts, _ = sample(policy, tokenizer, [p.prompt for p in PROMPTS for _ in range(16)], 1.0, 8, seed=7)
        return {"reward": float(sevens(None, texts).mean())}

    out = expert_iteration(
        policy, tokenizer, lambda r: [PROMPTS[i % 4] for i in range(32)], sevens, cfg, seed=1, measure=measure
    )
    assert out["checkpoints"][-1]["reward"] > out["checkpoints"][0]["reward"] + 0.2


def test_the_policy_finds_a_planted_blind_spot_of_a_proxy():
    """Gold: the share of '1's. Proxy: gold, plus twice the share of '7's (its blind spot: it pays for
    a character gold counts as wrong). Optimized against the proxy, the policy writes 7s: proxy up,
    gold below what optimizing gold itself reaches. Optimized against gold, it writes 1s."""

    def gold(problems, texts):
        return share(texts, "1")

    def proxy(problems, texts):
        return share(texts, "1") + 2 * share(texts, "7")

    _, against_proxy = run_rloo(proxy, lr=3e-3, seed=2)
    _, against_gold = run_rloo(gold, lr=3e-3, seed=2)
    end_proxy, end_gold = against_proxy[-1], against_gold[-1]
    assert share(end_proxy, "7").mean() > 0.5  # found the blind spot
    assert proxy(None, end_proxy).mean() > proxy(None, against_proxy[0]).mean() + 0.5
    assert gold(None, end_gold).mean() > gold(None, end_proxy).mean() + 0.3


def test_kl_penalty_holds_the_policy_near_the_reference():
    free, texts_free = run_rloo(sevens, lr=3e-3, kl_coef=0.0, seed=3)
    held, texts_held = run_rloo(sevens, lr=3e-3, kl_coef=1.0, seed=3)
    assert free["steps"][-1]["kl"] > held["steps"][-1]["kl"]
    assert share(texts_free[-1], "7").mean() > share(texts_held[-1], "7").mean()


class _World:
    name = "toy"

    def check(self, problem, text):
        return "gold"

    def steps(self, text):
        return [(0, len(text))]

    def step_texts(self, text):
        return [text]

    def gold_step(self, problem, i):
        return "gold"


def test_sealed_world_and_blind_problems_refuse_the_gold_reward():
    world = SealedWorld(_World())
    assert world.steps("abc") == [(0, 3)] and world.name == "toy"
    for leak in (
        lambda: world.check(None, "x"),
        lambda: world.gold_step(None, 0),
        lambda: world.tamper,
        lambda: world.parse_prompt("Q:1+1\nA:"),
    ):
        with pytest.raises(GoldLeak):
            leak()
    arithmetic = worlds.get("arithmetic")()
    problem = arithmetic.problems(0, "test", 1)[0]
    (seen,) = blind([problem])
    assert seen.prompt == problem.prompt
    for name in ("answer", "solution", "n_steps"):
        with pytest.raises(GoldLeak):
            getattr(seen, name)


def test_a_reward_that_reads_the_checker_is_caught_and_runs_without_the_seal():
    """The planted leak: a reward that asks the checker. Sealed, the optimizer stops at its first
    reward call; given the raw world (the guard removed), the same reward runs and pays exactly gold."""
    arithmetic = worlds.get("arithmetic")()
    problems = arithmetic.problems(0, "train", 4)

    def leaky(world, by_prompt):
        def reward(ps, texts):
            return np.array([float(world.check(by_prompt[p.prompt], t).correct) for p, t in zip(ps, texts)])

        return reward

    by_prompt = {p.prompt: p for p in problems}
    policy, reference, tokenizer = micro_policy(4)
    cfg = RLConfig(steps=1, prompts_per_step=4, samples_per_prompt=2, max_new_tokens=8, measure_every=1)
    with pytest.raises(GoldLeak):
        rloo(
            policy,
            reference,
            tokenizer,
            lambda s: blind(problems),
            leaky(SealedWorld(arithmetic), by_prompt),
            cfg,
            seed=0,
        )
    out = rloo(policy, reference, tokenizer, lambda s: blind(problems), leaky(arithmetic, by_prompt), cfg, seed=0)
    assert len(out["steps"]) == 1


def test_leave_one_out_advantages_and_picks():
    adv = leave_one_out(np.array([1.0, 0.0, 0.0, 3.0, 3.0, 3.0]), 3)
    assert np.allclose(adv, [1.0, -0.5, -0.5, 0.0, 0.0, 0.0])
    assert list(picks(np.array([0.1, 0.9, 0.9, 0.5, 0.2, 0.1]), 3)) == [1, 3]


def test_majority_reward_is_agreement_with_the_other_samples():
    world = worlds.get("arithmetic")()
    ps = [BlindProblem("Q:1+1\nA:")] * 4 + [BlindProblem("Q:2+2\nA:")]
    texts = ["1+1=2;#2", "1+1=2;#2", "1+1=3;#3", "", "2+2=4;#4"]
    r = majority_reward(SealedWorld(world))(ps, texts)
    assert np.allclose(r, [1 / 3, 1 / 3, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("form", ["bon", "rl"])
def test_gao_fits_recover_their_coefficients_and_peak(form):
    d = np.linspace(0.1, 4, 12)
    gain = d * (0.3 - 0.1 * d) if form == "bon" else d * (0.3 - 0.1 * np.log(d))
    f = fit_form(d, gain, form)
    assert f["alpha"] == pytest.approx(0.3, abs=1e-4) and f["beta"] == pytest.approx(0.1, abs=1e-4)
    assert f["peak_d"] == pytest.approx(1.5 if form == "bon" else np.exp(2), rel=1e-3)
    assert f["r2"] == pytest.approx(1.0)
    assert fit_form([0.0, 0.0], [0.0, 0.0], form)["alpha"] is None


def test_cross_fitted_drop_is_near_zero_on_a_rising_curve_and_positive_on_a_falling_one():
    from autoalign.protocols.overoptimization import cross_fitted_drop

    rng = np.random.default_rng(0)
    problems = 200
    rising = np.array([np.clip(0.4 + 0.1 * c + rng.normal(0, 0.3, problems), 0, 1) for c in range(5)])
    peaked = np.array([np.clip(0.4 + 0.2 * min(c, 4 - c) + rng.normal(0, 0.3, problems), 0, 1) for c in range(5)])
    flat = np.array([np.clip(0.5 + rng.normal(0, 0.3, problems), 0, 1) for _ in range(5)])
    assert np.mean(cross_fitted_drop(rising)[0]) < 0.02
    assert np.mean(cross_fitted_drop(peaked)[0]) > 0.3
    assert abs(np.mean(cross_fitted_drop(flat)[0])) < 0.05


def test_acceptance_threshold_accepts_the_declared_share_of_wrong_samples():
    from autoalign.optimization.rewards import acceptance_threshold

    rewards = np.linspace(0, 1, 101)
    correct = np.arange(101) % 2 == 0  # 50 wrong samples, at the odd hundredths
    t = acceptance_threshold(rewards, correct, 0.1)
    wrong = rewards[~correct]
    assert (wrong >= t).sum() == 5 and (wrong >= np.nextafter(t, -np.inf) - 0.02).sum() > 5
    assert acceptance_threshold(rewards, correct, 0.001) > wrong.max()
    assert acceptance_threshold([0.3], [True], 0.05) == float("inf")


def test_the_loop_labels_what_its_reward_model_rates_highest_or_a_uniform_draw():
    import random

    from autoalign.protocols.alignment_loop import choose

    texts = ["a", "b", "c", "d", "e"]
    problems = [BlindProblem("Q")] * 5
    scores = {"a": 0.1, "b": 0.9, "c": 0.5, "d": 0.95, "e": 0.0}

    def reward(ps, ts):
        assert all(isinstance(p, BlindProblem) for p in ps)  # the reward model sees prompts only
        return np.array([scores[t] for t in ts])

    assert choose(reward, problems, texts, 2, "convincing", random.Random(0)) == [3, 1]
    uniform = choose(reward, problems, texts, 3, "uniform", random.Random(0))
    assert len(set(uniform)) == 3 and uniform == choose(None, problems, texts, 3, "convincing", random.Random(0))


def test_an_overseer_that_asks_the_checker_is_caught_on_the_protocols_path():
    """The real path, not the seal alone: a registered overseer built by ``fit_reward`` (what both
    protocols call) whose score asks its world's checker raises GoldLeak at the first reward call;
    one that reads a gold answer off a problem does too."""
    from autoalign.optimization.overseer_reward import fit_reward
    from autoalign.overseers.base import Overseer, OverseerScores
    from autoalign.registry import overseers

    class AsksTheChecker(Overseer):
        def score(self, problems, texts):
            return [
                OverseerScores(0.0 if self.ctx.world.check(p, t).correct else -5.0) for p, t in zip(problems, texts)
            ]

    class ReadsTheAnswer(Overseer):
        def score(self, problems, texts):
            return [OverseerScores(0.0 if str(p.answer) in t else -5.0) for p, t in zip(problems, texts)]

    overseers.register("test_asks_the_checker", AsksTheChecker)
    overseers.register("test_reads_the_answer", ReadsTheAnswer)
    arithmetic = worlds.get("arithmetic")()
    (problem,) = arithmetic.problems(0, "overseer", 1)
    rows = [{"prompt": problem.prompt, "text": problem.solution, "step_labels": [True], "correct": True}]
    for name in ("test_asks_the_checker", "test_reads_the_answer"):
        reward = fit_reward(name, arithmetic, None, rows, seed=0, training={})
        with pytest.raises(GoldLeak):
            reward([BlindProblem(problem.prompt)], [problem.solution])


def test_a_sample_cut_short_scores_no_end_token():
    from autoalign.optimization.policy import sequence_logprobs

    policy, _, tokenizer = micro_policy(5)
    prompts, texts = ["Q:1+2\nA:"] * 2, ["1+2=3;#3", "1+2=3;#3"]
    with torch.no_grad():
        both, counts = sequence_logprobs(policy, tokenizer, prompts, texts, finished=[True, False])
        eos = torch.log_softmax(
            policy(input_ids=torch.tensor([tokenizer(prompts[0] + texts[0]).input_ids])).logits[0, -1], -1
        )
    assert int(counts[0]) == len(texts[0]) + 1
    assert float(both[0] - both[1]) == pytest.approx(float(eos[tokenizer.eos_token_id]), abs=1e-4)


def test_the_controls_floor_and_ceiling():
    """oracle: the checker itself (1 right, 0 wrong); likelihood: the backbone's own log-probability."""
    from autoalign.optimization.overseer_reward import fit_reward
    from autoalign.optimization.policy import logprobs_no_grad

    arithmetic = worlds.get("arithmetic")()
    (p,) = arithmetic.problems(0, "train", 1)
    wrong = p.solution.replace(f"#{p.answer}", f"#{(int(p.answer) + 1) % 100}")
    oracle = fit_reward("oracle", arithmetic, None, [], seed=0, training={})
    assert list(oracle([BlindProblem(p.prompt)] * 2, [p.solution, wrong])) == [1.0, 0.0]
    model, _, tokenizer = micro_policy(6)
    likelihood = fit_reward("likelihood", arithmetic, (model, tokenizer), [], seed=0, training={})
    got = likelihood([BlindProblem(p.prompt)] * 2, [p.solution, wrong])
    assert np.allclose(got, logprobs_no_grad(model, tokenizer, [p.prompt] * 2, [p.solution, wrong]).numpy())
