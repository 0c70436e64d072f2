"""Training and scoring verifiers on step-labelled solutions (TRL's stepwise examples).

A PRM learns each step's label up to and including the first wrong step (after a mistake the
later steps' labels say little, as in "Let's Verify Step by Step"); an ORM learns the final
answer's correctness (the last completion's label) at every step end. The backbone trains at a
small learning rate and the head's two numbers at a large one, so the head adapts quickly without
the backbone forgetting its arithmetic.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..runtime.progress import progress_bar
from ..records import LabelledSolution
from .verifier import EncodedBatch, StepVerifier, encode_steps


BUCKET_STEPS = 4  # batches drawn together and grouped by length: less padding, the same examples


def targets(examples: list[LabelledSolution], kind: str, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.zeros((len(examples), width))
    mask = torch.zeros((len(examples), width))
    for r, e in enumerate(examples):
        n = len(e.labels)
        if kind == "prm":
            first_wrong = next((i for i, ok in enumerate(e.labels) if not ok), n - 1)
            labels[r, :n] = torch.tensor(e.labels, dtype=torch.float)
            mask[r, : first_wrong + 1] = 1
        else:
            labels[r, :n] = float(e.labels[-1])
            mask[r, :n] = 1
    return labels, mask


def encode_examples(tokenizer, examples: list[LabelledSolution]) -> EncodedBatch:
    return encode_steps(tokenizer, [e.prompt for e in examples], [e.text for e in examples],
                        [list(e.spans) for e in examples], [e.tokens for e in examples])


def train_verifier(
    verifier: StepVerifier,
    tokenizer,
    examples: list[LabelledSolution],
    steps: int,
    batch_size: int = 64,
    lr: float = 3e-4,
    head_lr: float = 1e-2,
    seed: int = 0,
    description: str = "training verifier",
    buckets: int = BUCKET_STEPS,
) -> list[float]:
    """Fine-tune ``verifier`` on ``examples``; returns the loss every 10 steps. Each block of four
    steps draws four batches of examples at random (with replacement) and hands them out grouped
    by length, so the model computes on less padding."""
    head = [verifier.scale, verifier.bias] + (list(verifier.linear.parameters()) if verifier.head == "linear" else [])
    head_ids = {id(p) for p in head}
    body = [p for p in verifier.parameters() if id(p) not in head_ids]
    # a fresh linear head has nothing to start from: give it the fast learning rate too
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": head_lr}], weight_decay=0.0)
    base = [lr, head_lr]
    rng = random.Random(seed)
    verifier.train()
    history, running = [], 0.0
    with progress_bar(description, total=steps) as bar:
        for step in range(steps):
            warm = min(1.0, (step + 1) / max(1, steps // 10))
            decay = 0.5 * (1 + math.cos(math.pi * step / steps))
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * warm * (0.1 + 0.9 * decay)
            if step % buckets == 0:  # draw a block of batches, group them by length
                block = sorted((examples[rng.randrange(len(examples))] for _ in range(batch_size * buckets)),
                               key=lambda e: len(e.prompt) + len(e.text))
                grouped = [block[k * batch_size:(k + 1) * batch_size] for k in range(buckets)]
                rng.shuffle(grouped)
            batch = grouped[step % buckets]
            enc = encode_examples(tokenizer, batch)
            labels, mask = targets(batch, verifier.kind, enc.step_mask.size(1))
            loss = verifier.loss(enc, labels, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(verifier.parameters(), 1.0)
            opt.step()
            running += loss.item()
            if (step + 1) % 10 == 0:
                history.append(round(running / 10, 5))
                bar.update(info=f"loss {running / 10:.3f}")
                running = 0.0
            bar.advance(1)
    verifier.eval()
    return history


def step_probabilities(
    verifier: StepVerifier, tokenizer, prompts: list[str], texts: list[str], spans: list[list[tuple[int, int]]],
    batch_size: int = 256, description: str = "scoring", tokens: list | None = None,
) -> list[list[float]]:
    """Probability of every step being correct (PRM) or of the final answer being right (ORM)."""
    logits = step_logit_values(verifier, tokenizer, prompts, texts, spans, batch_size, description, tokens)
    return [torch.sigmoid(torch.tensor(x, dtype=torch.float64)).tolist() for x in logits]


@torch.inference_mode()
def step_logit_values(
    verifier: StepVerifier, tokenizer, prompts: list[str], texts: list[str], spans: list[list[tuple[int, int]]],
    batch_size: int = 256, description: str = "scoring", tokens: list | None = None,
) -> list[list[float]]:
    """The verifier's logit at every step end; for an untrained log-likelihood head these are the
    backbone's own log-probabilities (of each step for a PRM, of the prefix for an ORM)."""
    verifier.eval()
    spans = [sp if sp else [(0, len(t))] for sp, t in zip(spans, texts)]  # an empty text: one empty step
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(texts[i]))
    out: list[list[float] | None] = [None] * len(prompts)
    with progress_bar(description, total=len(prompts)) as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = encode_steps(tokenizer, [prompts[i] for i in idx], [texts[i] for i in idx], [spans[i] for i in idx],
                               [tokens[i] for i in idx] if tokens is not None else None)
            probs = verifier.step_logits(enc).double()
            for r, i in enumerate(idx):
                n = int(enc.step_mask[r].sum())
                out[i] = probs[r, :n].tolist()
            bar.advance(len(idx))
    return out  # type: ignore[return-value]


def solution_score(step_probs: list[float], kind: str, aggregate: str = "product") -> float:
    """One number per solution: PRM product (as a log) or minimum of step probabilities; ORM last."""
    if not step_probs:
        return float("-inf")
    if kind == "orm":
        return math.log(max(step_probs[-1], 1e-12))
    if aggregate == "min":
        return math.log(max(min(step_probs), 1e-12))
    return float(np.sum(np.log(np.clip(step_probs, 1e-12, 1.0))))
