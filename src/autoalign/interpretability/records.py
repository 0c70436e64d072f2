"""Activation records: what each MLP neuron of a white-box causal LM does on a world's texts.

Following Bills et al. (2023), a neuron is described by excerpts of text with its activation on every
token: its *top* excerpts (from the texts where it fires most) and *random* excerpts. What was decided:

- A neuron is one unit of an MLP's hidden layer, read as the input of the MLP's output projection
  (GPT-2's ``c_proj``, Llama's ``down_proj``) with a forward pre-hook: the GELU's output for GPT-2, the
  gated product for Llama. The same hook serves a toy model trained here and a loaded checkpoint.
  With ``site="residual"`` the units are instead the residual stream's dimensions after each block
  (the block's output, read with a forward hook): the basis a sparse autoencoder is trained in.
- Texts are batched right-padded: under causal attention the pads after a text cannot change its
  tokens' activations, and positions count from 0 as in training. A BOS token (where the tokenizer
  uses one) is fed but not recorded. Tokens map to characters by the tokenizer's offsets.
- An excerpt is a window of at most ``window`` tokens in one text, about three quarters of it before
  the token it is cut around; the whole text is kept with it, so a feature may read context before
  the window (the running value of a chain). A neuron has at most one top excerpt per text, cut
  around its maximum there. Random excerpts are random windows of random texts, shared by all neurons.
- Everything is plain dataclasses of lists, so records serialize to JSON as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import UserError
from ..models.device import model_device
from ..models.encoding import encode_with_offsets, prefix_ids
from ..seeding import rng


@dataclass
class Excerpt:
    """A window of tokens of one text with a neuron's activation on each."""

    text: str  # the whole text the window is cut from
    text_index: int  # its index in the texts the records were collected over
    start: int  # index of the window's first token in the text's tokens
    offsets: list[tuple[int, int]]  # character span of each window token in ``text``
    activations: list[float]

    @property
    def tokens(self) -> list[str]:
        return [self.text[a:b] for a, b in self.offsets]


@dataclass
class NeuronRecord:
    """One neuron's top-activating excerpts (highest maximum first) and random excerpts."""

    layer: int
    neuron: int
    top: list[Excerpt]
    random: list[Excerpt]

    @property
    def max_activation(self) -> float:
        return max((max(e.activations) for e in self.top if e.activations), default=0.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NeuronRecord":
        def excerpts(items):
            return [Excerpt(**{**e, "offsets": [tuple(o) for o in e["offsets"]]}) for e in items]

        return cls(d["layer"], d["neuron"], excerpts(d["top"]), excerpts(d["random"]))


@dataclass
class ActivationSet:
    """Every recorded neuron's activation on every token of every text."""

    texts: list[str]
    offsets: list[list[tuple[int, int]]]  # per text, each token's character span
    activations: np.ndarray  # [n_texts, most tokens, n_neurons], float32, 0 past a text's end
    neurons: list[tuple[int, int]]  # (layer, index in the layer) of each column

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(o) for o in self.offsets])


SITES = ("mlp", "residual")


def mlp_neuron_modules(model) -> list[torch.nn.Module]:
    """Each block's MLP output projection, in layer order: their inputs are the MLP neurons."""
    out = []
    for name, module in model.named_modules():
        if name.endswith(".mlp"):
            proj = next((getattr(module, a) for a in ("c_proj", "down_proj") if hasattr(module, a)), None)
            if proj is not None:
                out.append(proj)
    if not out:
        raise UserError(f"{type(model).__name__}: no MLP output projection (c_proj or down_proj) to read neurons from")
    return out


def residual_modules(model) -> list[torch.nn.Module]:
    """Each transformer block, in layer order (Llama's ``layers``, GPT-2's ``h``): their outputs are the
    residual stream after each layer."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and name.split(".")[-1] in ("layers", "h"):
            return list(module)
    raise UserError(f"{type(model).__name__}: no list of transformer blocks (layers or h) to read the residual from")


def _capture(modules: list[torch.nn.Module], site: str, captured: dict) -> list:
    if site == "mlp":
        return [
            m.register_forward_pre_hook(lambda _m, args, i=i: captured.__setitem__(i, args[0].detach()))
            for i, m in enumerate(modules)
        ]
    return [
        m.register_forward_hook(
            lambda _m, _args, out, i=i: captured.__setitem__(i, (out[0] if isinstance(out, tuple) else out).detach())
        )
        for i, m in enumerate(modules)
    ]


@torch.no_grad()
def collect_activations(
    model, tokenizer, texts: Sequence[str], batch_size: int = 32, site: str = "mlp"
) -> ActivationSet:
    """Activations of ``model`` on every token of ``texts`` (as the model reads them, whole): its MLP
    neurons (``site="mlp"``) or its residual stream's dimensions after each block (``"residual"``)."""
    if not texts or any(not t for t in texts):
        raise ValueError("collect_activations needs non-empty texts")
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}; known: {', '.join(SITES)}")
    encoded = encode_with_offsets(tokenizer, list(texts))
    prefix = prefix_ids(tokenizer)
    modules = mlp_neuron_modules(model) if site == "mlp" else residual_modules(model)
    device = model_device(model)
    widest = max(len(ids) for ids, _ in encoded)
    parts: list[list[np.ndarray]] = [[] for _ in modules]
    captured: dict[int, torch.Tensor] = {}
    hooks = _capture(modules, site, captured)
    was_training = model.training
    model.eval()
    try:
        for s in range(0, len(encoded), batch_size):
            rows = [prefix + ids for ids, _ in encoded[s : s + batch_size]]
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, row in enumerate(rows):
                ids[r, : len(row)], mask[r, : len(row)] = torch.tensor(row), 1
            model(input_ids=ids.to(device), attention_mask=mask.to(device))
            for i in range(len(modules)):
                a = captured[i][:, len(prefix) :].float().cpu().numpy()
                a = a * mask[:, len(prefix) :, None].numpy()  # pads read 0
                parts[i].append(np.pad(a, ((0, 0), (0, widest - a.shape[1]), (0, 0))))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    per_layer = [np.concatenate(p, axis=0) for p in parts]
    neurons = [(layer, j) for layer, a in enumerate(per_layer) for j in range(a.shape[2])]
    offsets = [[tuple(o) for o in offs] for _, offs in encoded]
    return ActivationSet(list(texts), offsets, np.concatenate(per_layer, axis=2).astype(np.float32), neurons)


def _window(length: int, centre: int, window: int) -> tuple[int, int]:
    start = int(np.clip(centre - (3 * window) // 4, 0, max(0, length - window)))
    return start, min(length, start + window)


def _excerpt(acts: ActivationSet, text: int, column: int, centre: int, window: int) -> Excerpt:
    a, b = _window(len(acts.offsets[text]), centre, window)
    values = acts.activations[text, a:b, column]
    return Excerpt(acts.texts[text], int(text), a, list(acts.offsets[text][a:b]), values.tolist())


def neuron_records(
    acts: ActivationSet,
    columns: Sequence[int] | None = None,
    n_top: int = 20,
    n_random: int = 20,
    window: int = 64,
    seed: int = 0,
) -> list[NeuronRecord]:
    """Top and random excerpts of each neuron in ``columns`` (default: all) of ``acts``."""
    cols = np.arange(len(acts.neurons)) if columns is None else np.asarray(columns, dtype=int)
    lengths = acts.lengths
    live = np.arange(acts.activations.shape[1])[None, :] < lengths[:, None]
    masked = np.where(live[:, :, None], acts.activations[:, :, cols], -np.inf)
    peak_value, peak_at = masked.max(axis=1), masked.argmax(axis=1)  # [n_texts, n_cols]
    top_texts = np.argsort(-peak_value, axis=0, kind="stable")[: min(n_top, len(acts.texts))]
    draw = rng(seed, "random excerpts")
    random_texts = draw.integers(0, len(acts.texts), size=n_random)
    random_centres = [int(draw.integers(0, lengths[t])) for t in random_texts]
    out = []
    for j, c in enumerate(cols):
        layer, index = acts.neurons[c]
        top = [_excerpt(acts, t, c, peak_at[t, j], window) for t in top_texts[:, j]]
        rand = [_excerpt(acts, t, c, centre, window) for t, centre in zip(random_texts, random_centres)]
        out.append(NeuronRecord(int(layer), int(index), top, rand))
    return out
