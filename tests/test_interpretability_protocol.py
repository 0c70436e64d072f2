"""The interpretability protocol end to end at micro size, and the pieces it adds: residual records, a
sparse autoencoder, mean ablation.

Each check can fail: the planted feature must rank first for its neuron and ablating that neuron where
the feature fires must move the outputs more than ablating random neurons of its layer there; the SAE
must reconstruct better as it trains and a sparsity penalty must lower its L0; an empty ablation must
change nothing while a real one changes something.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autoalign.interpretability import collect_activations
from autoalign.interpretability.ablation import ablation_effect, neuron_means, next_token_logprobs
from autoalign.interpretability.sae import feature_activations, layer_vectors, sae_stats, train_sae
from autoalign.worlds import make_world

PLANTED = "the token is a digit of a number >= 50"
MICRO = [
    "bootstrap_resamples=200",
    "generator.size=micro",
    "generator.train_steps=80",
    "generator.target_accuracy=null",
    "generator.eval_every=1000",
    "generator.eval_problems=8",
    "world.max_steps=3",
    "interpretability.texts=60",
    "interpretability.n_top=10",
    "interpretability.n_random=10",
    "interpretability.window=32",
    f"interpretability.planted.feature={PLANTED}",
    "interpretability.planted.texts=80",
    "interpretability.planted.steps=60",
    "interpretability.planted.lr=0.003",
    "interpretability.ablation.texts=40",
    "interpretability.ablation.random_draws=3",
    "interpretability.sae.texts=100",
    "interpretability.sae.steps=150",
    "interpretability.sae.batch_size=256",
]


@pytest.fixture(scope="module")
def micro():
    from autoalign.models import build_char_tokenizer, build_model

    world = make_world("arithmetic")
    texts = [p.prompt + p.solution for p in world.problems(0, "train", 24)]
    tokenizer = build_char_tokenizer()
    return build_model("llama", "micro", tokenizer, seed=0), tokenizer, texts


@pytest.mark.science
def test_the_protocol_runs_end_to_end_recovers_its_planted_feature_and_the_planted_neuron_matters(tmp_path):
    from autoalign.config import load_config
    from autoalign.orchestration import execute, open_run
    from autoalign.report.summary import folder_summary

    cfg = load_config("configs/interpretability.yaml", MICRO)
    store, _ = open_run(cfg, tmp_path / "run")
    metrics = execute(store, cfg)
    m = metrics["interpretability"]
    assert m["mlp"]["units"] == 2 * 192 and m["residual"]["units"] == 2 * 64 and m["sae"]["units"] == 4 * 64
    assert len(m["mlp"]["scores_descending"]) == 2 * 192
    assert m["mlp"]["score_minus_random"]["mean"] > 0.2  # explanations beat a random one by far
    p = m["planted"]
    assert p["rank"] == 1 and p["found"] == PLANTED and p["score"] > 0.7, p
    assert abs(p["correlation_before"]) < 0.3  # it was planted, not found there already
    assert p["ablation"]["planted_minus_random"]["ci_low"] > 0, p["ablation"]  # the model uses it
    assert len(m["ablation"]["neurons"]) == 10
    # every declared endpoint reads a number from this run's metrics (none missing)
    blocks = metrics["endpoints"]
    statuses = {name: e["status"] for k in ("primary", "exploratory", "guarantees") for name, e in blocks[k].items()}
    assert statuses and "missing" not in statuses.values(), statuses
    assert statuses["planted_recovered"] == "kept"
    assert any(line.startswith("  planted") for line in folder_summary(store.path))
    assert store.file("plots", "interpretability.png").exists()
    assert store.file("plots", "interpretability_best_excerpts.png").stat().st_size > 10_000  # best units drawn
    assert "Automated interpretability" in store.file("report.html").read_text()


def test_residual_records_are_each_block_output(micro):
    model, tokenizer, texts = micro
    acts = collect_activations(model, tokenizer, texts[:6], site="residual")
    assert acts.activations.shape[2] == 2 * 64 and acts.neurons[64] == (1, 0)
    from autoalign.models.encoding import encode_with_offsets, prefix_ids

    pre = prefix_ids(tokenizer)
    ids = torch.tensor([pre + encode_with_offsets(tokenizer, texts[:1])[0][0]])
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    n = ids.shape[1] - len(pre)
    np.testing.assert_allclose(acts.activations[0, :n, :64], hidden[1][0, len(pre) :].numpy(), atol=1e-5)  # block 0


def _sparse_data(seed: int = 0, n: int = 4000, d: int = 16, atoms: int = 32, active: int = 3) -> np.ndarray:
    """Vectors that are sums of a few of ``atoms`` random directions: what an SAE should find."""
    rng = np.random.default_rng(seed)
    dictionary = rng.standard_normal((atoms, d))
    codes = np.zeros((n, atoms))
    for row in codes:
        row[rng.choice(atoms, size=active, replace=False)] = rng.uniform(0.5, 2.0, size=active)
    return (codes @ dictionary).astype(np.float32)


def test_sae_reconstruction_improves_as_it_trains():
    x = _sparse_data()
    sae, history = train_sae(x, 64, l1=0.3, steps=600, batch_size=256, lr=3e-3, seed=0, log_every=100)
    assert history[-1]["fvu"] < 0.5 * history[0]["fvu"], history
    assert sae_stats(sae, x).fvu < 0.2


def test_a_sparsity_penalty_lowers_l0():
    x = _sparse_data(seed=1)
    dense, _ = train_sae(x, 64, l1=0.0, steps=400, batch_size=256, lr=3e-3, seed=0)
    sparse, _ = train_sae(x, 64, l1=1.0, steps=400, batch_size=256, lr=3e-3, seed=0)
    assert sae_stats(sparse, x).l0 < 0.5 * sae_stats(dense, x).l0


def test_sae_features_of_a_model_are_an_activation_set(micro):
    model, tokenizer, texts = micro
    acts = collect_activations(model, tokenizer, texts, site="residual")
    sae, _ = train_sae(layer_vectors(acts, 1), 32, l1=1.0, steps=20, batch_size=128, seed=0)
    f = feature_activations(sae, acts, 1)
    assert f.activations.shape == (len(texts), acts.activations.shape[1], 32) and f.neurons[3] == (1, 3)
    assert (f.activations[0, len(texts[0]) :] == 0).all()  # nothing past a text's end


def test_an_empty_ablation_changes_nothing_and_a_real_one_changes_the_outputs(micro):
    model, tokenizer, texts = micro
    acts = collect_activations(model, tokenizer, texts)
    means = neuron_means(acts)
    clean = next_token_logprobs(model, tokenizer, texts, batch_size=8)
    from autoalign.models.encoding import prefix_ids

    pre = len(prefix_ids(tokenizer))  # a BOS, where there is one, predicts the first token
    assert [len(c) for c in clean] == [len(t) - 1 + pre for t in texts]
    nothing = {(0, 3): [np.zeros(len(t), bool) for t in texts]}
    none = ablation_effect(model, tokenizer, texts, nothing, means, clean, batch_size=8)
    assert max(none.kl) < 1e-9 and none.ablated == 0
    everywhere = {(layer, j): [np.ones(len(t), bool) for t in texts] for layer in (0, 1) for j in range(192)}
    mean_ablated = ablation_effect(model, tokenizer, texts, everywhere, means, clean, batch_size=8)
    assert min(mean_ablated.kl) > 0 and mean_ablated.ablated == 2 * 192 * sum(map(len, texts))
