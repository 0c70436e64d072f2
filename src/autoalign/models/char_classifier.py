"""A small bidirectional transformer that reads a short text and answers with one character.

Used where a role's answer is one symbol: the amplification answerer (a letter, a digit, ``-``) and
reward models that say ``y`` or ``n``. It reads characters of the project's alphabet
(``tokenizer.ALPHABET``), prepends a summary token and predicts the answer from that token's final
state, over the answers that make sense for the question (``choices``). On 2 CPU cores it trains
about twice as fast as the causal LM of the same width (one answer per text, no decoding).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from .tokenizer import ALPHABET

PAD, CLS = 0, 1
VOCAB = {c: i + 2 for i, c in enumerate(dict.fromkeys(ALPHABET))}


@dataclass(frozen=True)
class ClassifierSize:
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int


CLASSIFIER_SIZES = {
    "micro": ClassifierSize(64, 2, 4, 192),
    "tiny": ClassifierSize(96, 3, 4, 256),
    "small": ClassifierSize(128, 4, 4, 384),
}
MAX_CHARS = 96


class CharClassifier(nn.Module):
    def __init__(self, size: str = "micro"):
        super().__init__()
        s = CLASSIFIER_SIZES[size]
        self.size = size
        self.embed = nn.Embedding(len(VOCAB) + 2, s.d_model, padding_idx=PAD)
        self.position = nn.Embedding(MAX_CHARS + 1, s.d_model)
        layer = nn.TransformerEncoderLayer(s.d_model, s.n_heads, s.d_ff, 0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, s.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(s.d_model)
        self.head = nn.Linear(s.d_model, len(VOCAB) + 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits over characters, from the summary token, for right-padded ids (B, T)."""
        h = self.embed(ids) + self.position.weight[: ids.shape[1]]
        h = self.encoder(h, src_key_padding_mask=ids == PAD)
        return self.head(self.norm(h[:, 0]))


def encode(texts: list[str]) -> torch.Tensor:
    """Summary token, then one id per character; right-padded. Characters outside the alphabet fail."""
    width = 1 + max(len(t) for t in texts)
    if width > MAX_CHARS + 1:
        raise ValueError(f"text longer than {MAX_CHARS} characters")
    ids = torch.full((len(texts), width), PAD, dtype=torch.long)
    for r, t in enumerate(texts):
        ids[r, : len(t) + 1] = torch.tensor([CLS] + [VOCAB[c] for c in t])
    return ids


def choice_mask(choices: list[str]) -> torch.Tensor:
    """-inf on every character not among a row's choices (B, V)."""
    mask = torch.full((len(choices), len(VOCAB) + 2), float("-inf"))
    for r, cs in enumerate(choices):
        mask[r, [VOCAB[c] for c in cs]] = 0.0
    return mask


def targets(answers: list[str]) -> torch.Tensor:
    return torch.tensor([VOCAB[a] for a in answers], dtype=torch.long)


@torch.inference_mode()
def answer(model: CharClassifier, texts: list[str], choices: list[str], batch_size: int = 1024) -> list[str]:
    """The most likely allowed character for each text."""
    model.eval()
    inverse = {i: c for c, i in VOCAB.items()}
    out: list[str] = []
    for s in range(0, len(texts), batch_size):
        logits = model(encode(texts[s : s + batch_size])) + choice_mask(choices[s : s + batch_size])
        out += [inverse[i] for i in logits.argmax(-1).tolist()]
    return out


@torch.inference_mode()
def prob_of(model: CharClassifier, texts: list[str], char: str, choices: str, batch_size: int = 1024) -> torch.Tensor:
    """P(answer = ``char``) among ``choices`` for each text (a reward model's score)."""
    model.eval()
    out = []
    for s in range(0, len(texts), batch_size):
        chunk = texts[s : s + batch_size]
        logits = model(encode(chunk)) + choice_mask([choices] * len(chunk))
        out.append(logits.softmax(-1)[:, VOCAB[char]])
    return torch.cat(out) if out else torch.zeros(0)


class Trainer:
    """AdamW with linear warm-up and cosine decay to 10%, one step per call (callers own the data)."""

    def __init__(self, model: CharClassifier, steps: int, lr: float = 2e-3, warmup: int = 50):
        self.model, self.steps, self.lr, self.warmup = model, steps, lr, warmup
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
        self.step_no = 0

    def rate(self) -> float:
        if self.step_no < self.warmup:
            return self.lr * (self.step_no + 1) / self.warmup
        t = min(1.0, (self.step_no - self.warmup) / max(1, self.steps - self.warmup))
        return self.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * t)))

    def step(self, texts: list[str], answers: list[str], choices: list[str]) -> float:
        self.model.train()
        for g in self.opt.param_groups:
            g["lr"] = self.rate()
        logits = self.model(encode(texts)) + choice_mask(choices)
        loss = nn.functional.cross_entropy(logits, targets(answers))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.step_no += 1
        return loss.item()


def save_bytes(model: CharClassifier) -> bytes:
    buf = io.BytesIO()
    torch.save({"size": model.size, "state": model.state_dict()}, buf)
    return buf.getvalue()


def load_bytes(data: bytes) -> CharClassifier:
    saved = torch.load(io.BytesIO(data), weights_only=True)
    model = CharClassifier(saved["size"])
    model.load_state_dict(saved["state"])
    return model.eval()
