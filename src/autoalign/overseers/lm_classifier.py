"""A yes/no classifier on a causal LM, trained on soft labels: a pretrained model's own
likelihood, read as a verdict, so that labels elicit what pretraining taught. Weak-to-strong
students and supervisors use it, and any protocol whose judge should start from what a language
model already knows.

Losses (Burns et al. 2023):

* ``ce``: cross-entropy with the supervisor's soft labels;
* ``confidence``: ``(1 - a) * CE(f, weak) + a * CE(f, hardened f)``, where ``hardened f`` thresholds
  the student's own predictions at the batch quantile that gives them the weak labels' share of
  positives, and ``a`` ramps linearly from 0 to ``weight`` over the first ``warmup`` of training.
  With ``weight = 0`` it is exactly ``ce`` (tested).
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..models.device import TrainingStep, model_device


class Classifier(nn.Module):
    """P(label = 1 | item) read off a causal LM, with one of two heads:

    * ``loglik`` (default): the backbone's own log-probability of the item's steps through a learned
      affine map (the PRM's head, ``overseers/verifier.py``); the item's logit is the minimum over its
      steps (solution task: one wrong step makes it wrong) or the last step's (step task). Before
      fine-tuning this is the pretrained model's likelihood, so what it learned in pretraining is
      what the labels elicit.
    * ``linear``: a fresh linear map of the hidden state at the last token (Burns et al.'s head).
    """

    def __init__(self, lm, seed: int, head: str = "loglik", task: str = "solution"):
        super().__init__()
        from .verifier import StepVerifier

        torch.manual_seed(seed)
        self.verifier = StepVerifier(lm, "prm", head).to(model_device(lm))
        self.lm, self.head, self.task = lm, head, task

    def head_parameters(self) -> list:
        v = self.verifier
        return [v.scale, v.bias] + (list(v.linear.parameters()) if self.head == "linear" else [])

    def forward(self, tokenizer, items: list, steps) -> torch.Tensor:
        return self.score(encode_items(tokenizer, items, steps).batch(list(range(len(items)))))

    def score(self, batch) -> torch.Tensor:
        """One logit per item of an encoded batch (``encode_items(...).batch(rows)``)."""
        logits = self.verifier.step_logits(batch)
        mask = batch.step_mask.to(logits.device)
        if self.task == "step":
            last = mask.long().sum(1).clamp(min=1) - 1
            return logits[torch.arange(logits.size(0), device=logits.device), last]
        return logits.masked_fill(~mask, float("inf")).min(1).values


def encode_items(tokenizer, items: list, steps):
    """The items as the classifier reads them (an item without steps is one step), all encoded once."""
    from .verifier import encode_table

    spans = [steps(it.body) or [(0, len(it.body))] for it in items]
    return encode_table(tokenizer, [it.prompt for it in items], [it.body for it in items], spans)


def confidence_loss(logits: torch.Tensor, soft: torch.Tensor, weight: float) -> torch.Tensor:
    """The auxiliary confidence loss for one batch, at auxiliary weight ``weight``."""
    ce = F.binary_cross_entropy_with_logits(logits, soft)
    if weight == 0:
        return ce
    probs = torch.sigmoid(logits.detach())
    share = float((soft > 0.5).float().mean())  # the weak labels' share of positives
    k = int(round(share * len(probs)))
    hard = torch.zeros_like(probs)
    if k > 0:
        hard[torch.topk(probs, k).indices] = 1.0
    return (1 - weight) * ce + weight * F.binary_cross_entropy_with_logits(logits, hard)


def train_classifier(
    clf: Classifier,
    tokenizer,
    items: list,
    soft: list[float],
    steps,
    n_steps: int,
    batch_size: int,
    lr: float,
    head_lr: float,
    seed: int,
    loss: str = "ce",
    weight: float = 0.0,
    warmup: float = 0.2,
) -> list[float]:
    """Fine-tune backbone (at ``lr``) and head (at ``head_lr``); returns the loss every 10 steps."""
    device = model_device(clf.lm)
    head = clf.head_parameters()
    ids = {id(p) for p in head}
    body = [p for p in clf.parameters() if id(p) not in ids]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": head_lr}], weight_decay=0.0)
    base = [lr, head_lr]
    rng = random.Random(seed)
    targets = torch.tensor(soft, dtype=torch.float)
    table = encode_items(tokenizer, items, steps)  # once: a step's batch is a slice of it
    calibrate(clf, table.batch([rng.randrange(len(items)) for _ in range(256)]), float(targets.mean()))
    history, running = [], 0.0
    clf.train()
    with TrainingStep(clf) as in_step:  # each step under autocast and compile, as the run asks (models/device.py)
        for step in range(n_steps):
            scale = min(1.0, (step + 1) / max(1, n_steps // 10)) * (
                0.1 + 0.45 * (1 + math.cos(math.pi * step / n_steps))
            )
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * scale
            idx = [rng.randrange(len(items)) for _ in range(batch_size)]
            with in_step():
                logits = clf.score(table.batch(idx)).float()
            y = targets[idx].to(device)
            a = weight * min(1.0, step / max(1.0, warmup * n_steps)) if loss == "confidence" else 0.0
            value = confidence_loss(logits, y, a)
            opt.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
            opt.step()
            running += value.item()
            if (step + 1) % 10 == 0:
                history.append(round(running / 10, 5))
                running = 0.0
    clf.eval()
    return history


@torch.no_grad()
def calibrate(clf: Classifier, sample, base_rate: float) -> None:
    """Start the log-likelihood head standardized on a sample of the training items (an encoded
    batch), at the labels' base rate: a log-probability's scale is arbitrary (tens of nats), so
    without this the first hundred steps would only move the bias."""
    if clf.head != "loglik":
        return
    v = clf.verifier
    v.scale.fill_(1.0)
    v.bias.fill_(0.0)
    x = clf.score(sample).float()
    x = x[torch.isfinite(x)]
    if x.numel() < 2:
        return
    sd = float(x.std().clamp(min=1e-3))
    rate = min(max(base_rate, 0.02), 0.98)
    v.scale.fill_(1.0 / sd)
    v.bias.fill_(-float(x.mean()) / sd + math.log(rate / (1 - rate)))


@torch.inference_mode()
def predict(clf: Classifier, tokenizer, items: list, steps, batch_size: int = 256) -> np.ndarray:
    clf.eval()
    order = sorted(range(len(items)), key=lambda i: len(items[i].prompt) + len(items[i].body))
    out = np.zeros(len(items))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        out[idx] = torch.sigmoid(clf(tokenizer, [items[i] for i in idx], steps).float()).cpu().numpy()
    return out
