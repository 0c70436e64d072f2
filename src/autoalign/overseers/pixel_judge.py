"""The sparse-pixel debate judge: a classifier that sees only k revealed pixels of a digit.

Input is two 8x8 planes, flattened: the mask (which pixels are revealed) and the revealed values
(zero elsewhere), so "revealed and dark" differs from "not revealed". One judge per k, trained on
fresh random masks of exactly k non-zero pixels each step (Irving et al. 2018 trained theirs the
same way on MNIST). The judge is then frozen: debaters play against it, they never train it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..worlds.digits import CLASSES, PIXELS


class SparsePixelJudge(nn.Module):
    def __init__(self, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * PIXELS, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, CLASSES),
        )

    def forward(self, mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Logits (..., 10) for boolean ``mask`` and ``images`` of shape (..., 64)."""
        m = mask.to(images.dtype)
        return self.net(torch.cat([m, m * images], dim=-1))


def random_masks(images: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """For each image, a mask of k of its non-zero pixels chosen uniformly (all of them if fewer)."""
    scores = torch.rand(images.shape, generator=generator)
    scores = torch.where(images > 0, scores, torch.full_like(scores, -1.0))
    top = scores.topk(k, dim=-1).indices
    mask = torch.zeros_like(images, dtype=torch.bool).scatter_(-1, top, True)
    return mask & (images > 0)


def train_pixel_judge(
    x: np.ndarray, y: np.ndarray, k: int, steps: int, batch_size: int, lr: float, seed: int, hidden: int = 256
) -> tuple[SparsePixelJudge, list[float]]:
    """Train a judge for exactly k revealed pixels; returns the judge and its loss every 100 steps."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    from ..models.device import current

    dev = torch.device(current()[0])  # masks are drawn on the CPU (reproducible), then moved
    judge = SparsePixelJudge(hidden).to(dev)
    opt = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    history, running = [], 0.0
    for step in range(steps):
        idx = torch.randint(0, len(labels), (batch_size,), generator=g)
        batch = images[idx]
        masks = random_masks(batch, k, g)
        loss = nn.functional.cross_entropy(judge(masks.to(dev), batch.to(dev)), labels[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        if (step + 1) % 100 == 0:
            history.append(running / 100)
            running = 0.0
    judge.eval()
    return judge, history


@torch.no_grad()
def judge_logits(
    judge: SparsePixelJudge, masks: torch.Tensor, images: torch.Tensor, chunk: int = 65536
) -> torch.Tensor:
    """Logits for many (mask, image) pairs, in chunks to bound memory."""
    flat_m, flat_x = masks.reshape(-1, PIXELS), images.reshape(-1, PIXELS)
    dev = next(judge.parameters()).device
    out = [
        judge(flat_m[i : i + chunk].to(dev), flat_x[i : i + chunk].to(dev)).cpu() for i in range(0, len(flat_m), chunk)
    ]
    return torch.cat(out).reshape(*masks.shape[:-1], CLASSES)
