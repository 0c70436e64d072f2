"""Roles played over HTTP: a model served by ``autoalign serve`` (in a background thread) plays the
best-of-N generator and a facts debater through the official ``openai`` client (autoalign's
``openai/`` provider). Greedy decoding must give exactly the in-process results; with sampling the
two must agree within their CIs."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from autoalign.config import load_config
from autoalign.models import TrainConfig, build_char_tokenizer, train_lm
from autoalign.orchestration import execute, open_run
from autoalign.pipeline.generator import bucketed_batches
from autoalign.serve import make_app, resolve_models
from autoalign.serve.background import background
from autoalign.worlds import make_world
from autoalign.worlds.arithmetic import ArithmeticConfig

WORLD = ["world.min_steps=1", "world.max_steps=2"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A small character-level Llama (long context, so debate prompts fit) trained briefly on
    arithmetic, saved, and served; yields (folder, base URL, model id)."""
    folder = tmp_path_factory.mktemp("served") / "arith"
    tok = build_char_tokenizer()
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=192,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    world = make_world("arithmetic", ArithmeticConfig(min_steps=1, max_steps=2))
    train_lm(model, tok, bucketed_batches(world, 0, 32), TrainConfig(steps=150, lr=3e-3, warmup_steps=20))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    models = resolve_models(str(folder))
    (name,) = models
    with background(make_app(models)) as url:
        yield str(folder), f"{url}/v1", name


def _run(tmp_path, name, config, sets):
    cfg = load_config(config, sets)
    store, _ = open_run(cfg, tmp_path / name)
    return execute(store, cfg), tmp_path / name


def _best_of_n(tmp_path, name, generator, extra):
    return _run(
        tmp_path,
        name,
        "configs/best_of_n.yaml",
        WORLD
        + [
            f"generator.model={generator}",
            "best_of_n.worlds=[arithmetic]",
            "best_of_n.train_problems=30",
            "best_of_n.train_samples_per_problem=2",
            "best_of_n.test_problems=40",
            "best_of_n.n_values=[1,4]",
            "best_of_n.subsets=20",
            "best_of_n.verifier.steps=5",
            "best_of_n.verifier.batch_size=16",
            "best_of_n.verifier.weak_baseline=false",
            "best_of_n.active_learning.enabled=false",
            "sampling.max_new_tokens=24",
            "bootstrap_resamples=200",
            *extra,
        ],
    )


def _texts(run_dir):
    return [
        json.loads(x)["text"]
        for f in sorted((run_dir / "samples").glob("arithmetic_test-*.jsonl"))
        for x in f.read_text().splitlines()
    ]


def test_best_of_n_generator_over_http_equals_in_process(served, tmp_path):
    folder, url, name = served
    remote = [f"providers.openai.base_url={url}", f"best_of_n.backbone=hf/{folder}"]
    for temperature, pool in ((0.0, 4), (1.0, 8)):
        extra = [f"sampling.temperature={temperature}", f"best_of_n.pool_size={pool}"]
        local, local_dir = _best_of_n(tmp_path, f"local-{temperature}", f"hf/{folder}", extra)
        http, http_dir = _best_of_n(tmp_path, f"http-{temperature}", f"openai/{name}", extra + remote)
        a, b = local["best_of_n"]["generator"]["accuracy"], http["best_of_n"]["generator"]["accuracy"]
        if temperature == 0:
            assert _texts(local_dir) == _texts(http_dir)
            assert local["best_of_n"]["best_of_n"] == http["best_of_n"]["best_of_n"]
            assert a == b
        else:  # different random streams, the same model: CIs overlap
            assert _texts(local_dir) != _texts(http_dir)
            assert a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]
            assert 0 < a["mean"] < 1


def test_facts_debater_over_http_equals_in_process(served, tmp_path):
    folder, url, name = served
    common = [
        "debate_facts.test_questions=16",
        "debate_facts.rounds=1",
        "debate_facts.debater_strength=1",
        "debate_facts.debater_temperature=0",
        "debate_facts.tournament_strengths=[]",
        "debate_facts.judge_train_questions=200",
        "bootstrap_resamples=200",
        "debate_facts.calibration_questions=10",
        "debate_facts.ablation_questions=0",
        "debate_facts.planning_questions=0",
        "debate_facts.long_walk_hops=0",
    ]
    local, _ = _run(
        tmp_path, "facts-local", "configs/debate_facts.yaml", common + [f"debate_facts.debater_model=hf/{folder}"]
    )
    http, _ = _run(
        tmp_path,
        "facts-http",
        "configs/debate_facts.yaml",
        common + [f"debate_facts.debater_model=openai/{name}", f"providers.openai.base_url={url}"],
    )
    assert local["debate_facts"] == http["debate_facts"]
    assert "unverified_quotes" in local["debate_facts"]["facts"]


def test_facts_judge_played_by_a_served_model(served, tmp_path):
    """The judge's verdict is its log-probability of "0" against "1": over HTTP (the server's echoed
    log-probabilities) it must match the in-process value."""
    folder, url, name = served
    common = [
        "debate_facts.test_questions=12",
        "debate_facts.rounds=1",
        "debate_facts.debater_strength=1",
        "debate_facts.tournament_strengths=[]",
        "bootstrap_resamples=200",
        "debate_facts.calibration_questions=10",
        "debate_facts.ablation_questions=0",
        "debate_facts.planning_questions=0",
        "debate_facts.long_walk_hops=0",
    ]
    _, local_dir = _run(
        tmp_path, "judge-local", "configs/debate_facts.yaml", common + [f"debate_facts.judge_model=hf/{folder}"]
    )
    _, http_dir = _run(
        tmp_path,
        "judge-http",
        "configs/debate_facts.yaml",
        common + [f"debate_facts.judge_model=openai/{name}", f"providers.openai.base_url={url}"],
    )

    def probs(run_dir):
        (f,) = (run_dir / "samples").glob("debate_facts*.jsonl")
        return [json.loads(x)["debate_p_correct"] for x in f.read_text().splitlines()]

    a, b = probs(local_dir), probs(http_dir)
    assert len(a) == 12 and all(0 < p < 1 for p in a)
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4
