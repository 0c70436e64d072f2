"""Training and scoring verifiers on step-labelled solutions (TRL's stepwise examples).

A PRM learns each step's label up to and including the first wrong step (after a mistake the
later steps' labels say little, as in "Let's Verify Step by Step"); an ORM learns the final
answer's correctness (the last completion's label) at every step end. The backbone trains at a
small learning rate and the head's two numbers at a large one, so the head adapts quickly without
the backbone forgetting its arithmetic.

The label type and the head's aggregation cross (``targets``): process labels on a cumulative head
say at step i whether steps 1..i are all correct; outcome labels on a per-step head put the final
answer's correctness on every step; a ``last_token`` head gets one label per solution, at its end.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..models.device import TrainingStep
from ..records import LabelledSolution
from ..runtime.progress import progress_bar
from .verifier import EncodedBatch, StepVerifier, encode_steps, encode_table

BUCKET_STEPS = 4  # batches drawn together and grouped by length: less padding, the same examples


def step_targets(step_labels: list[bool], kind: str, aggregation: str | None = None) -> tuple[list[float], list[float]]:
    """One solution's per-step targets and loss mask, for its label type (``kind``: ``prm`` process,
    ``orm`` outcome) and the head's aggregation (default: the kind's own, as in ``StepVerifier``).

    - process, per step: each step's own label, up to and including the first wrong step;
    - process, cumulative: whether steps 1..i are all correct, at every step (0 from the first
      mistake on: the prefix holds an error);
    - outcome (either head): the final answer's correctness at every step;
    - last token: only the last step is labelled, with the cumulative process label (all steps
      correct) or the outcome label."""
    from .verifier import DEFAULT_AGGREGATION

    aggregation = aggregation or DEFAULT_AGGREGATION[kind]
    n = len(step_labels)
    ok = [float(x) for x in step_labels]
    if kind == "prm":
        labels = ok if aggregation == "per_step" else [float(all(step_labels[: i + 1])) for i in range(n)]
    else:
        labels = [ok[-1]] * n
    if aggregation == "last_token":
        mask = [0.0] * (n - 1) + [1.0]
    elif kind == "prm" and aggregation == "per_step":
        first_wrong = next((i for i, x in enumerate(step_labels) if not x), n - 1)
        mask = [1.0] * (first_wrong + 1) + [0.0] * (n - first_wrong - 1)
    else:
        mask = [1.0] * n
    return labels, mask


def targets(
    examples: list[LabelledSolution], kind: str, width: int, aggregation: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.zeros((len(examples), width))
    mask = torch.zeros((len(examples), width))
    for r, e in enumerate(examples):
        n = len(e.labels)
        if n:
            lab, m = step_targets(list(e.labels), kind, aggregation)
            labels[r, :n] = torch.tensor(lab)
            mask[r, :n] = torch.tensor(m)
    return labels, mask


def example_columns(examples: list[LabelledSolution]) -> tuple[list, list, list, list]:
    """Prompts, texts, step spans and the generator's tokens: ``encode_steps``' arguments."""
    return (
        [e.prompt for e in examples],
        [e.text for e in examples],
        [list(e.spans) for e in examples],
        [e.tokens for e in examples],
    )


def encode_examples(tokenizer, examples: list[LabelledSolution]) -> EncodedBatch:
    return encode_steps(tokenizer, *example_columns(examples))


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
    body = [p for p in verifier.parameters() if id(p) not in head_ids and p.requires_grad]  # none if frozen
    # a fresh linear head has nothing to start from: give it the fast learning rate too
    groups = [g for g in ({"params": body, "lr": lr}, {"params": head, "lr": head_lr}) if g["params"]]
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    base = [g["lr"] for g in groups]
    rng = random.Random(seed)
    table = encode_table(tokenizer, *example_columns(examples))  # every example once; a batch is rows of it
    verifier.train()
    history, running = [], 0.0
    # each step under autocast and compile, as the run asks (models/device.py)
    with TrainingStep(verifier) as in_step, progress_bar(description, total=steps) as bar:
        for step in range(steps):
            warm = min(1.0, (step + 1) / max(1, steps // 10))
            decay = 0.5 * (1 + math.cos(math.pi * step / steps))
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * warm * (0.1 + 0.9 * decay)
            if step % buckets == 0:  # draw a block of batches, group them by length
                block = sorted(
                    (rng.randrange(len(examples)) for _ in range(batch_size * buckets)),
                    key=lambda i: len(examples[i].prompt) + len(examples[i].text),
                )
                grouped = [block[k * batch_size : (k + 1) * batch_size] for k in range(buckets)]
                rng.shuffle(grouped)
            rows = grouped[step % buckets]
            batch = [examples[i] for i in rows]
            enc = table.batch(rows)
            labels, mask = targets(batch, verifier.kind, enc.step_mask.size(1), verifier.aggregation)
            with in_step():
                loss = verifier.loss(enc, labels, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
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
    verifier: StepVerifier,
    tokenizer,
    prompts: list[str],
    texts: list[str],
    spans: list[list[tuple[int, int]]],
    batch_size: int = 256,
    description: str = "scoring",
    tokens: list | None = None,
) -> list[list[float]]:
    """Probability of every step being correct (PRM) or of the final answer being right (ORM)."""
    logits = step_logit_values(verifier, tokenizer, prompts, texts, spans, batch_size, description, tokens)
    return [torch.sigmoid(torch.tensor(x, dtype=torch.float64)).tolist() for x in logits]


@torch.inference_mode()
def step_logit_values(
    verifier: StepVerifier,
    tokenizer,
    prompts: list[str],
    texts: list[str],
    spans: list[list[tuple[int, int]]],
    batch_size: int = 256,
    description: str = "scoring",
    tokens: list | None = None,
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
            enc = encode_steps(
                tokenizer,
                [prompts[i] for i in idx],
                [texts[i] for i in idx],
                [spans[i] for i in idx],
                [tokens[i] for i in idx] if tokens is not None else None,
            )
            probs = verifier.step_logits(enc).double()
            for r, i in enumerate(idx):
                n = int(enc.step_mask[r].sum())
                out[i] = probs[r, :n].tolist()
            bar.advance(len(idx))
    return out  # type: ignore[return-value]


PER_STEP = ("prm", "per_step")  # scored over every step; anything else ("orm", "cumulative", "last_token") at the last


def solution_score(step_probs: list[float], kind: str, aggregate: str = "product") -> float:
    """One number per solution: for a per-step head (``kind`` ``prm`` or aggregation ``per_step``)
    the product (as a log) or minimum of step probabilities; for an ORM or any whole-solution head
    (``cumulative``, ``last_token``) the last step's."""
    if not step_probs:
        return float("-inf")
    if kind not in PER_STEP:
        return math.log(max(step_probs[-1], 1e-12))
    if aggregate == "min":
        return math.log(max(min(step_probs), 1e-12))
    return float(np.sum(np.log(np.clip(step_probs, 1e-12, 1.0))))
