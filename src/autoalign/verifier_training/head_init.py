"""Starting the log-likelihood head where the backbone already is, instead of at scale 1, bias 0.

A PRM's logit at a step is ``scale * log p(step) + bias``. At scale 1 and bias 0 every step looks
wrong (a step's log-probability is well below zero), so the first hundred or so optimizer steps of
a short run only move the bias (the loss falls from about 3, or 36 on a blind backbone, to 0.4)
while the backbone's gradient is that of a miscalibrated head. Fitting the two numbers first, by
logistic regression of the training labels on the backbone's own step log-probabilities, starts
training calibrated. The scale is kept at least ``MIN_SCALE``, with the bias refit for it, so the
backbone's gradient, which the scale multiplies, never vanishes. On 400-step-pretrained lab/tiny the
fitted start took the PRM's held-out ProcessBench F1 from 0.19 to 0.63 (solution AUROC 0.86 to 0.90).
"""

from __future__ import annotations

import random

import torch
from torch.nn import functional as F

MIN_SCALE = 0.1


def _fit(x: torch.Tensor, y: torch.Tensor, scale: float | None) -> tuple[float, float]:
    """Logistic regression ``y ~ sigmoid(a x + b)`` by L-BFGS; ``a`` fixed when ``scale`` is given."""
    a = torch.tensor(1.0 if scale is None else scale, dtype=torch.float64, requires_grad=scale is None)
    b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    params = [p for p in (a, b) if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(a * x + b, y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(a.detach()), float(b.detach())


def fit_head(verifier, tokenizer, examples, seed: int = 0, sample: int = 512) -> dict:
    """Set ``verifier.scale`` and ``verifier.bias`` from up to ``sample`` training examples."""
    from ..overseers.training import step_logit_values, targets

    picked = random.Random(seed).sample(examples, min(sample, len(examples)))
    with torch.no_grad():
        verifier.scale.fill_(1.0)
        verifier.bias.fill_(0.0)
    raw = step_logit_values(
        verifier,
        tokenizer,
        [e.prompt for e in picked],
        [e.text for e in picked],
        [list(e.spans) for e in picked],
        batch_size=128,
        description="fitting the head",
    )
    width = max(len(r) for r in raw)
    labels, mask = targets(picked, verifier.kind, width)
    xs, ys = [], []
    for r, row in enumerate(raw):
        for j, value in enumerate(row):
            if mask[r, j] > 0:
                xs.append(value)
                ys.append(float(labels[r, j]))
    x = torch.tensor(xs, dtype=torch.float64)
    y = torch.tensor(ys, dtype=torch.float64)
    x = torch.nan_to_num(x, neginf=-1e4)
    if len(set(ys)) < 2:  # one class only: the bias alone says it
        a, b = 1.0, _fit(x, y, 1.0)[1]
    else:
        a, b = _fit(x, y, None)
        if a < MIN_SCALE:
            a, b = _fit(x, y, MIN_SCALE)
    with torch.no_grad():
        verifier.scale.fill_(a)
        verifier.bias.fill_(b)
    return {"scale": round(a, 4), "bias": round(b, 4), "steps_used": len(xs)}
