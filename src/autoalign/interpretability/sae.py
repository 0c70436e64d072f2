"""A sparse autoencoder of a model's residual stream, so that its features can be explained like neurons.

Why our own, in torch: the well-kept libraries target other models. ``sae_lens`` trains on
TransformerLens's ``HookedTransformer`` (a dependency, with plotly, nltk, datasets and more), not on the
transformers Llama and GPT-2 models trained here; ``dictionary_learning`` pins ``nnsight<0.4`` and pulls
wandb, umap-learn and plotly. A ReLU autoencoder on a few hundred thousand vectors of width 64 to 256
is a few dozen lines, trained in seconds on a CPU.

The architecture is Anthropic's (Bricken et al. 2023, with the April 2024 update): inputs are scaled
by one constant so that their mean squared norm is the width ``d``; ``f = ReLU(W_e (x - b_d) + b_e)``,
``x_hat = W_d f + b_d``; the loss is the squared error plus ``l1`` times ``sum_i f_i ||W_d[:, i]||``
(the decoder norm inside the penalty, so that shrinking codes cannot be undone by growing columns).
The decoder starts with columns of norm 0.1 and the encoder as its transpose; Adam, constant rate.

``feature_activations`` turns a layer of a residual ``ActivationSet`` into an ``ActivationSet`` of the
features, so the records, explainer and scores serve them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .records import ActivationSet


class SparseAutoencoder(torch.nn.Module):
    def __init__(self, d: int, n_features: int, scale: float = 1.0, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(d, n_features, generator=g)
        w = 0.1 * w / w.norm(dim=0, keepdim=True)
        self.w_dec = torch.nn.Parameter(w)
        self.w_enc = torch.nn.Parameter(w.T.clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(n_features))
        self.b_dec = torch.nn.Parameter(torch.zeros(d))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations of raw (unscaled) residual vectors ``[..., d]``."""
        return torch.relu((x / self.scale - self.b_dec) @ self.w_enc.T + self.b_enc)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """Reconstruction in the scaled space."""
        return f @ self.w_dec.T + self.b_dec

    def loss(self, x: torch.Tensor, l1: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, squared error per vector, features) for raw vectors ``x``."""
        f = self.encode(x)
        error = ((self.decode(f) - x / self.scale) ** 2).sum(-1)
        penalty = (f * self.w_dec.norm(dim=0)).sum(-1)
        return (error + l1 * penalty).mean(), error, f


@dataclass
class SAEStats:
    fvu: float  # fraction of variance unexplained: squared error / total variance (scaled space)
    l0: float  # mean number of active features per vector
    dead_share: float  # share of features active on none of the vectors


@torch.no_grad()
def sae_stats(sae: SparseAutoencoder, x: np.ndarray) -> SAEStats:
    t = torch.as_tensor(x, dtype=torch.float32)
    _, error, f = sae.loss(t, 0.0)
    scaled = t / sae.scale
    total = ((scaled - scaled.mean(0)) ** 2).sum()
    active = f > 0
    return SAEStats(
        float(error.sum() / total), float(active.sum(-1).float().mean()), float((~active.any(0)).float().mean())
    )


def train_sae(
    x: np.ndarray,
    n_features: int,
    l1: float,
    steps: int = 2000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    seed: int = 0,
    log_every: int = 0,
) -> tuple[SparseAutoencoder, list[dict]]:
    """An autoencoder of the rows of ``x`` ``[vectors, d]`` and its history (``log_every`` > 0: measured
    on ``x`` before training and every ``log_every`` steps)."""
    data = torch.as_tensor(x, dtype=torch.float32)
    scale = float(torch.sqrt((data**2).sum(-1).mean() / data.shape[1]))
    sae = SparseAutoencoder(data.shape[1], n_features, scale, seed)
    with torch.no_grad():
        sae.b_dec.copy_(data.mean(0) / scale)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history = []

    def record(step: int) -> None:
        stats = sae_stats(sae, x)
        history.append({"step": step, "fvu": stats.fvu, "l0": stats.l0, "dead_share": stats.dead_share})

    if log_every:
        record(0)
    for step in range(1, steps + 1):
        batch = data[torch.randint(len(data), (min(batch_size, len(data)),), generator=g)]
        loss, _, _ = sae.loss(batch, l1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if log_every and (step % log_every == 0 or step == steps):
            record(step)
    return sae, history


def layer_vectors(acts: ActivationSet, layer: int) -> np.ndarray:
    """``[tokens, d]``: the residual vectors of ``layer`` at every live token of ``acts``."""
    cols = [i for i, (lay, _) in enumerate(acts.neurons) if lay == layer]
    live = np.arange(acts.activations.shape[1])[None, :] < acts.lengths[:, None]
    return acts.activations[live][:, cols]


@torch.no_grad()
def feature_activations(sae: SparseAutoencoder, acts: ActivationSet, layer: int) -> ActivationSet:
    """The SAE's features on every token of a residual ``ActivationSet``'s texts (0 past a text's end),
    as units ``(layer, feature)``."""
    cols = [i for i, (lay, _) in enumerate(acts.neurons) if lay == layer]
    f = sae.encode(torch.as_tensor(acts.activations[:, :, cols], dtype=torch.float32)).numpy()
    live = np.arange(f.shape[1])[None, :] < acts.lengths[:, None]
    f = np.where(live[:, :, None], f, 0.0).astype(np.float32)
    return ActivationSet(acts.texts, acts.offsets, f, [(layer, j) for j in range(f.shape[2])])
