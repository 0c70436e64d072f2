"""PRM/ORM mechanics, and a PRM trained on a user's stepwise JSONL beats chance."""

import random

import numpy as np
import pytest
import torch
from conftest import TEST_THREADS
from sklearn.metrics import roc_auc_score

from autoalign.errors import UserError
from autoalign.models import TrainConfig, build_char_tokenizer, build_model, sample_solutions, train_lm
from autoalign.overseers import (
    StepVerifier,
    VerifierReward,
    encode_steps,
    load_verifier,
    save_verifier,
    solution_score,
    step_probabilities,
    train_verifier,
)
from autoalign.worlds import (
    ArithmeticConfig,
    example_from_solution,
    generate,
    make_world,
    read_stepwise_jsonl,
    write_stepwise_jsonl,
)
from autoalign.worlds.tampering import tamper_result

WORLD = ArithmeticConfig(min_steps=1, max_steps=2)


@pytest.fixture(scope="module")
def backbone():
    """A tiny generator trained briefly on gold solutions (about 15 s)."""
    torch.set_num_threads(TEST_THREADS)
    tok = build_char_tokenizer()
    lm = build_model("llama", "tiny", tok, 0)
    train_lm(
        lm,
        tok,
        lambda s: [(p.prompt, p.solution) for p in generate(1000 + s, 64, WORLD)],
        TrainConfig(steps=250, lr=5e-3, warmup_steps=20),
    )
    return lm, tok


def greedy_accuracy(lm, tok, n: int = 100) -> float:
    """Greedy accuracy on held-out problems (seed 7; the backbone trained on seeds 1000+)."""
    world, problems = make_world("arithmetic", WORLD), generate(7, n, WORLD)
    texts = sample_solutions(lm, tok, [p.prompt for p in problems], temperature=0.0, max_new_tokens=48)
    return float(np.mean([world.check(p, t).correct for p, t in zip(problems, texts)]))


def test_briefly_trained_generator_is_far_above_chance(backbone):
    """The science check under every overseer here: 250 steps on gold 1-2 step chains teach a tiny
    generator to solve many held-out problems; the same model untrained solves almost none (guessing
    a two-digit-or-more answer is about 1%)."""
    lm, tok = backbone
    untrained = build_model("llama", "tiny", tok, 0)
    trained, chance = greedy_accuracy(lm, tok), greedy_accuracy(untrained, tok)
    assert trained > 0.15 and chance < 0.05, (trained, chance)


def test_one_pass_scores_equal_scoring_each_prefix_separately(backbone):
    lm, tok = backbone
    world = make_world("arithmetic")
    prompt, text = "7+5*3=", "7+5=12;12*3=36;#36"
    other = "1+2=3;3*3=9;9-4=5;#5"
    spans = world.steps(text)
    assert [text[a:b] for a, b in spans] == ["7+5=12;", "12*3=36;", "#36"]
    for kind in ("prm", "orm"):
        v = StepVerifier(lm, kind, "loglik")
        with torch.no_grad():
            v.scale.fill_(0.7)
            v.bias.fill_(0.3)
            # one pass, inside a padded batch with a longer neighbour
            together = v.step_logits(
                encode_steps(tok, [prompt, "1+2*3-4="], [text, other], [spans, world.steps(other)])
            )[0]
            for i in range(len(spans)):
                prefix = text[: spans[i][1]]
                alone = v.step_logits(encode_steps(tok, [prompt], [prefix], [spans[: i + 1]]))[0, i]
                assert torch.allclose(together[i], alone, atol=1e-4), (kind, i)


def tampered_jsonl(path, seed, n):
    rng = random.Random(seed)
    examples = []
    for p in generate(seed, n, WORLD):
        examples.append(example_from_solution(p, p.solution))
        examples.append(example_from_solution(p, tamper_result(p, rng).text))
    write_stepwise_jsonl(path, examples)
    return examples


def test_prm_trained_on_user_jsonl_ranks_correct_above_flawed(backbone, tmp_path):
    lm, tok = backbone
    path = tmp_path / "labels.jsonl"
    tampered_jsonl(path, seed=1, n=300)
    examples = [e.labelled() for e in read_stepwise_jsonl(path)]  # the user's path: read and validated
    assert any(not all(e.labels) for e in examples)
    held_out = [e.labelled() for e in tampered_jsonl(tmp_path / "test.jsonl", seed=2, n=100)]
    y = [all(e.labels) for e in held_out]

    def auroc(v):
        probs = step_probabilities(
            v, tok, [e.prompt for e in held_out], [e.text for e in held_out], [list(e.spans) for e in held_out]
        )
        return roc_auc_score(y, [solution_score(p, "prm") for p in probs])

    import copy

    prm = StepVerifier(copy.deepcopy(lm), "prm", "loglik")
    before = auroc(prm)
    train_verifier(prm, tok, examples, steps=120, batch_size=32, lr=1e-3, seed=0)
    after = auroc(prm)
    # 200 held-out solutions: an AUROC of 0.62 is about three standard errors above chance. The
    # tiny backbone's own arithmetic bounds what the PRM can see (about 0.67 before, 0.69 after).
    assert after > 0.62 and after > before, (before, after)

    # saved and loaded, it is the same overseer, usable as a reward function in [0, 1]
    save_verifier(prm, tok, tmp_path / "prm")
    loaded, tok2 = load_verifier(tmp_path / "prm")
    assert abs(auroc(loaded) - after) < 1e-9
    reward = VerifierReward(loaded, tok2)
    good, bad = held_out[0], held_out[1]
    r = reward([good.prompt, bad.prompt], [good.text, bad.text])
    assert all(0.0 <= x <= 1.0 for x in r) and reward.__name__ == "prm_reward"
    chat = reward([good.prompt], [[{"role": "assistant", "content": good.text}]])
    assert np.isclose(chat[0], r[0])


def test_malformed_jsonl_is_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "1+1=", "completions": ["1+1=2"], "labels": [true]}\n{"prompt": "1+1=",\n')
    with pytest.raises(UserError, match=rf"^{path}:2: invalid JSON"):
        read_stepwise_jsonl(path)


def test_verifier_is_a_trl_reward_function(backbone, tmp_path):
    """Hand the PRM to TRL's GRPO trainer and check it scores the policy's completions."""
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    lm, tok = backbone
    reward = VerifierReward(StepVerifier(lm, "prm", "loglik"), tok)
    seen = []

    def prm_reward(prompts, completions, **kwargs):
        values = reward(prompts, completions, **kwargs)
        seen.append(values)
        return values

    policy = build_model("llama", "tiny", tok, 5)
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=12,
        max_steps=1,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        bf16=False,
    )
    data = Dataset.from_dict({"prompt": [p.prompt for p in generate(0, 8, WORLD)]})
    trainer = GRPOTrainer(model=policy, reward_funcs=[prm_reward], args=args, train_dataset=data, processing_class=tok)
    trainer.train()
    assert seen and len(seen[0]) == 4
    logged = [h["rewards/prm_reward/mean"] for h in trainer.state.log_history if "rewards/prm_reward/mean" in h]
    assert logged and np.isclose(logged[0], np.mean(seen[0]), rtol=1e-4, atol=1e-12)
