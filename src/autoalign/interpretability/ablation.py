"""Causal checks: mean-ablate MLP neurons at chosen tokens and measure how the model's predictions move.

An explanation says where a neuron fires. If it also says what the neuron is *for*, replacing the
neuron's activation by its mean exactly there should move the model's next-token predictions more
than the same surgery on other neurons at the same tokens. What was decided:

- **Mean ablation**, not zero: a neuron's mean over every token of the texts is what the model sees
  when the neuron carries no information; zero can be far from anything it ever saw.
- **Token by token**: each neuron is ablated only at its own tokens (a boolean mask per text), at the
  input of the MLP's output projection (the same place ``records`` reads it), in one forward pass for
  every neuron at once. Tokens are the texts' own (a BOS, where the tokenizer uses one, is never
  ablated).
- **Effect** per text: the mean over its token positions of KL(clean || ablated) of the next-token
  distribution (every position after an ablated token can move), and the change in the mean
  next-token loss on the text itself. Per text, so that a caller pairs conditions text by text and
  resamples texts for a CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from ..models.device import model_device
from ..models.encoding import encode_with_offsets, prefix_ids
from .records import ActivationSet, mlp_neuron_modules

Neuron = tuple[int, int]  # (layer, index in the layer)
Masks = Mapping[Neuron, Sequence[np.ndarray]]  # per neuron, per text: one bool per token


@dataclass
class AblationEffect:
    kl: list[float]  # per text: mean KL(clean || ablated) of the next-token distribution over its positions
    loss_change: list[float]  # per text: ablated - clean mean next-token loss on the text
    ablated: int  # (neuron, token) pairs ablated in all


def neuron_means(acts: ActivationSet) -> dict[Neuron, float]:
    """Each recorded neuron's mean activation over every token of every text (pads excluded)."""
    live = np.arange(acts.activations.shape[1])[None, :] < acts.lengths[:, None]
    means = acts.activations[live].mean(axis=0)
    return {tuple(n): float(m) for n, m in zip(acts.neurons, means)}


def _batch(tokenizer, texts: Sequence[str]):
    encoded = encode_with_offsets(tokenizer, list(texts))
    prefix = prefix_ids(tokenizer)
    rows = [prefix + ids for ids, _ in encoded]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, row in enumerate(rows):
        ids[r, : len(row)], mask[r, : len(row)] = torch.tensor(row), 1
    return ids, mask, len(prefix), [len(ids_) for ids_, _ in encoded]


@torch.no_grad()
def next_token_logprobs(
    model,
    tokenizer,
    texts: Sequence[str],
    masks: Masks | None = None,
    means: Mapping[Neuron, float] | None = None,
    batch_size: int = 32,
) -> list[np.ndarray]:
    """Per text, ``[positions, vocab]`` next-token log-probabilities at the BOS (if any) and every token
    but the last, with the neurons in ``masks`` mean-ablated at their tokens (none: the clean model)."""
    masks = masks or {}
    device = model_device(model)
    modules = mlp_neuron_modules(model)
    by_layer: dict[int, list[Neuron]] = {}
    for n in masks:
        by_layer.setdefault(n[0], []).append(n)
    out: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    hooks = []
    try:
        for s in range(0, len(texts), batch_size):
            chunk = list(texts[s : s + batch_size])
            ids, attention, pre, lengths = _batch(tokenizer, chunk)
            for h in hooks:
                h.remove()
            hooks = [
                modules[layer].register_forward_pre_hook(
                    _ablate_hook(neurons, masks, means or {}, s, len(chunk), pre, ids.shape[1], device)
                )
                for layer, neurons in by_layer.items()
            ]
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
            for r, n in enumerate(lengths):
                out.append(logp[r, : pre + n - 1])  # positions predicting tokens 0 (after BOS) .. n-1
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return out


def _ablate_hook(neurons, masks, means, start: int, rows: int, pre: int, width: int, device):
    index = torch.tensor([n[1] for n in neurons], device=device)
    value = torch.tensor([means[n] for n in neurons], dtype=torch.float32, device=device)
    where = torch.zeros((rows, width, len(neurons)), dtype=torch.bool)
    for j, n in enumerate(neurons):
        for r in range(rows):
            m = np.asarray(masks[n][start + r], dtype=bool)
            where[r, pre : pre + len(m), j] = torch.from_numpy(m)
    where = where.to(device)

    def hook(_module, args):
        a = args[0].clone()
        a[..., index] = torch.where(where, value.to(a.dtype), a[..., index])
        return (a,) + tuple(args[1:])

    return hook


def ablation_effect(
    model,
    tokenizer,
    texts: Sequence[str],
    masks: Masks,
    means: Mapping[Neuron, float],
    clean: Sequence[np.ndarray] | None = None,
    batch_size: int = 32,
) -> AblationEffect:
    """How far mean-ablating each neuron of ``masks`` at its tokens moves the predictions on ``texts``.

    ``clean``: the clean model's ``next_token_logprobs`` on ``texts``, when several conditions share it."""
    clean = clean if clean is not None else next_token_logprobs(model, tokenizer, texts, batch_size=batch_size)
    ablated = next_token_logprobs(model, tokenizer, texts, masks, means, batch_size)
    targets = [ids for ids, _ in encode_with_offsets(tokenizer, list(texts))]
    pre = len(prefix_ids(tokenizer))
    kl, loss = [], []
    for p, q, ids in zip(clean, ablated, targets):
        kl.append(float((np.exp(p) * (p - q)).sum(-1).mean()))
        tgt = np.asarray(ids[1 - pre :], dtype=int)  # the token each position predicts (a BOS predicts the first)
        rows = np.arange(len(tgt))
        loss.append(float(-(q[rows, tgt].mean() - p[rows, tgt].mean())) if len(tgt) else 0.0)
    count = int(sum(np.asarray(m, dtype=bool).sum() for per_text in masks.values() for m in per_text))
    return AblationEffect(kl, loss, count)
