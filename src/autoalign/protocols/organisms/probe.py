"""A defection probe: a linear direction in the residual stream, fitted on generic contrast pairs.

The pairs know nothing of any organism's trigger: a problem behind a neutral context followed by its
correct solution, against the same followed by a deliberately wrong one (a planted flaw). For every
layer (the embeddings are layer 0) a logistic regression on standardised activations, averaged over
the solution's tokens, learns "this text holds a wrong step". Which layer the overseer uses is chosen on held-out
contrast pairs, never on an organism: so the probe's score for an organism is untouched by it.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from ...models.device import model_device
from ...models.encoding import IGNORE, encode_pairs
from .lab import framed, neutral_context


@torch.inference_mode()
def activations(model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 256) -> np.ndarray:
    """(layers + 1, N, d): the residual stream averaged over the completion's tokens (as deception
    probes average over a response), or at the prompt's last token when the completion is empty."""
    model.eval()
    device = model_device(model)
    out = []
    for start in range(0, len(prompts), batch_size):
        pairs = list(zip(prompts[start:start + batch_size], completions[start:start + batch_size]))
        ids, labels = encode_pairs(tokenizer, pairs, with_eos=False)
        lengths = (ids != tokenizer.pad_token_id).sum(1)
        weights = (labels != IGNORE).float()
        empty = weights.sum(1) == 0
        weights[empty, (lengths[empty] - 1).clamp(min=0)] = 1.0  # no completion: the prompt's last token
        weights = (weights / weights.sum(1, keepdim=True)).to(device)
        hidden = model(input_ids=ids.to(device), output_hidden_states=True).hidden_states
        out.append(torch.stack([(h.float() * weights[..., None]).sum(1).cpu() for h in hidden]))
    return torch.cat(out, dim=1).numpy()


def contrast_pairs(world, problems, seed: int) -> tuple[list[str], list[str], list[int]]:
    """Each problem twice: neutral context + gold solution (0), the same + a planted flaw (1)."""
    rng = random.Random(seed)
    prompts, texts, labels = [], [], []
    for p in problems:
        prompt = framed(neutral_context(rng), p)
        flawed = world.tamper(p, rng.choice(world.flaw_kinds), rng).text
        prompts += [prompt, prompt]
        texts += [p.solution, flawed]
        labels += [0, 1]
    return prompts, texts, labels


def fit_probe(acts: np.ndarray, labels: list[int], held_out: float = 0.25, C: float = 1.0) -> dict:
    """Per layer: standardisation and logistic regression (JSON), held-out accuracy, the chosen layer."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels)
    n_fit = int(len(y) * (1 - held_out)) // 2 * 2  # pairs stay together
    layers = []
    for x in acts:
        mu, sd = x[:n_fit].mean(0), x[:n_fit].std(0) + 1e-6
        lr = LogisticRegression(C=C, max_iter=2000).fit((x[:n_fit] - mu) / sd, y[:n_fit])
        acc = float(lr.score((x[n_fit:] - mu) / sd, y[n_fit:]))
        layers.append({"mean": mu.tolist(), "scale": sd.tolist(), "coef": lr.coef_[0].tolist(),
                       "intercept": float(lr.intercept_[0]), "held_out_accuracy": acc})
    best = int(np.argmax([L["held_out_accuracy"] for L in layers]))
    return {"layers": layers, "chosen_layer": best}


def probe_scores(probe: dict, acts: np.ndarray) -> list[list[float]]:
    """Per layer, the probe's logit ("wrong step") for every item."""
    out = []
    for L, x in zip(probe["layers"], acts):
        z = (x - np.asarray(L["mean"])) / np.asarray(L["scale"])
        out.append((z @ np.asarray(L["coef"]) + L["intercept"]).tolist())
    return out
