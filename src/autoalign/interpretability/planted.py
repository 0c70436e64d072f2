"""Planted ground truth: neurons whose explanation is known, and whether the pipeline recovers it.

No anchor checks its explanations against a known answer; here that is the first check. Two plantings:

- ``synthetic_neuron``: a neuron that is a grammar feature plus Gaussian noise, one token per
  character, with no model at all. It checks the explainer, simulator and scorer alone: the planted
  feature should rank first on the fit half and score high on held-out excerpts, and a neuron of pure
  noise (``feature=None``) should score no better than the random baseline.
- ``plant_feature``: wire a feature into one MLP neuron of a real model by fine-tuning, so the model
  itself computes it: the neuron is pulled towards ``amplitude`` times the feature's signal while a
  KL term to a frozen copy of the model keeps its next-token predictions as they were. Its records
  then come from ``collect_activations`` like any other neuron's, which checks the whole pipeline.

``recovery`` says where the planted explanation ranks on the fit half (1 = the explainer's choice)
and its held-out score, next to what the explainer itself chose.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..models.device import model_device
from ..models.encoding import encode_with_offsets, prefix_ids
from ..seeding import rng
from .autointerp import NeuronExplanation, explain_neuron, fit_and_held, score_explanation
from .explain import explain
from .features import Feature, Grammar
from .records import ActivationSet, NeuronRecord, collect_activations, mlp_neuron_modules, neuron_records
from .score import correlation_score
from .simulate import GrammarSimulator


@dataclass
class PlantedRecovery:
    planted: str
    rank: int  # of the planted explanation among the grammar's on the fit half; 1 = chosen
    planted_score: float  # its correlation score on the held-out excerpts
    found: NeuronExplanation  # what the explainer chose, with its scores and baselines


@dataclass
class PlantedNeuron:
    layer: int
    neuron: int
    planted: str
    correlation_before: float  # of the neuron with the feature over every token of the texts
    correlation_after: float
    kl: float  # last step's KL from the frozen model's next-token distribution


def synthetic_neuron(
    texts: Sequence[str], feature: Feature | None, noise: float, seed: int = 0, n_top: int = 20, n_random: int = 20
) -> NeuronRecord:
    """Records of a neuron that reads ``feature`` on every character-token, plus ``noise`` times N(0, 1)."""
    draw = rng(seed, "synthetic neuron")
    width = max(len(t) for t in texts)
    acts = np.zeros((len(texts), width, 1), dtype=np.float32)
    for i, t in enumerate(texts):
        signal = feature.signal(t) if feature is not None else np.zeros(len(t))
        acts[i, : len(t), 0] = signal + noise * draw.standard_normal(len(t))
    offsets = [[(j, j + 1) for j in range(len(t))] for t in texts]
    return neuron_records(ActivationSet(list(texts), offsets, acts, [(-1, 0)]), None, n_top, n_random, seed=seed)[0]


def recovery(
    record: NeuronRecord, grammar: Grammar, planted: str, seed: int = 0, fit_random: bool = True
) -> PlantedRecovery:
    """Where the planted explanation ranks on the fit excerpts, its held-out score, and the explainer's result."""
    fit, held, held_random = fit_and_held(record, seed, fit_random=fit_random)
    ranking = [e.text for e in explain(fit, grammar)]
    score = score_explanation(planted, held, held_random, GrammarSimulator(grammar))
    found = explain_neuron(record, grammar, seed, fit_random=fit_random)
    return PlantedRecovery(planted, ranking.index(planted) + 1, score.value, found)


def neuron_feature_correlation(
    model, tokenizer, texts: Sequence[str], feature: Feature, layer: int, neuron: int
) -> float:
    """Pearson correlation of MLP neuron ``neuron`` of ``layer`` with ``feature`` over every token of ``texts``."""
    acts = collect_activations(model, tokenizer, texts)
    column = acts.neurons.index((layer, neuron))
    true = [acts.activations[i, : len(o), column] for i, o in enumerate(acts.offsets)]
    signal = [feature.signal(t)[[max(a, b - 1) for a, b in o]] for t, o in zip(texts, acts.offsets)]
    return correlation_score(signal, true).value


def plant_feature(
    model,
    tokenizer,
    texts: Sequence[str],
    feature: Feature,
    layer: int,
    neuron: int,
    steps: int = 200,
    lr: float = 1e-3,
    amplitude: float = 2.0,
    batch_size: int = 32,
    seed: int = 0,
) -> PlantedNeuron:
    """Fine-tune ``model`` in place so MLP neuron ``neuron`` of ``layer`` tracks ``feature`` on ``texts``.

    The correlations and KL returned are on ``texts`` themselves; call ``neuron_feature_correlation`` on
    held-out texts to see that the model computes the feature rather than memorising it."""
    before = neuron_feature_correlation(model, tokenizer, texts, feature, layer, neuron)
    device = model_device(model)
    reference = copy.deepcopy(model).eval().requires_grad_(False)
    module = mlp_neuron_modules(model)[layer]
    encoded, pre = encode_with_offsets(tokenizer, list(texts)), prefix_ids(tokenizer)
    width = len(pre) + max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(texts), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(texts), width))
    target = torch.zeros((len(texts), width))
    for r, ((row, offs), text) in enumerate(zip(encoded, texts)):
        n = len(pre) + len(row)
        ids[r, :n], mask[r, len(pre) : n] = torch.tensor(pre + row), 1.0
        target[r, len(pre) : n] = (
            amplitude * torch.as_tensor(feature.signal(text), dtype=torch.float32)[[max(a, b - 1) for a, b in offs]]
        )
    ids, mask, target = ids.to(device), mask.to(device), target.to(device)
    captured = {}
    hook = module.register_forward_pre_hook(lambda _m, args: captured.__setitem__("a", args[0]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    generator, last_kl = torch.Generator().manual_seed(seed), float("nan")
    was_training = model.training
    model.eval()  # dropout off: the neuron is fitted as it will be read
    try:
        for _ in range(steps):
            b = torch.randint(len(texts), (min(batch_size, len(texts)),), generator=generator).to(device)
            logits = model(input_ids=ids[b]).logits  # right-padded: causal attention needs no mask
            with torch.no_grad():
                ref = reference(input_ids=ids[b]).logits
            m = mask[b]
            kl = (torch.softmax(ref, -1) * (torch.log_softmax(ref, -1) - torch.log_softmax(logits, -1))).sum(-1)
            kl = (kl * m).sum() / m.sum()
            mse = (((captured["a"][..., neuron] - target[b]) ** 2) * m).sum() / m.sum()
            optimizer.zero_grad(set_to_none=True)
            (mse + kl).backward()
            optimizer.step()
            last_kl = float(kl.detach())
    finally:
        hook.remove()
        model.train(was_training)
    after = neuron_feature_correlation(model, tokenizer, texts, feature, layer, neuron)
    return PlantedNeuron(layer, neuron, feature.description, before, after, last_kl)
