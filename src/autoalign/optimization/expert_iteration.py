"""Expert iteration (best-of-N distillation): sample N, keep the reward's pick, fine-tune, repeat.

Each round samples ``samples_per_prompt`` (N) completions for ``prompts_per_round`` training prompts
from the current policy, keeps the one the reward scores highest for each prompt (ties: the first
drawn), and fine-tunes the policy on the kept (prompt, completion) pairs with the ordinary language
modelling loss for ``finetune_steps`` steps. There is no explicit KL penalty: how far the policy
moves is measured (``measure.py``), not constrained, and every round's checkpoint is a point on the
gold-vs-KL curve. The reward is asked for a ranking only, so any monotone reward gives the same run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..models.device import model_device
from ..models.encoding import encode_pairs
from ..models.train import lm_loss
from ..runtime.progress import progress_bar
from ..seeding import derive_seed
from .policy import sample


@dataclass(frozen=True)
class ExpertIterationConfig:
    rounds: int = 4
    prompts_per_round: int = 256
    samples_per_prompt: int = 8
    finetune_steps: int = 40
    batch_size: int = 64
    lr: float = 3e-4
    temperature: float = 1.0
    max_new_tokens: int = 64


def picks(rewards: np.ndarray, n: int) -> np.ndarray:
    """Index of the highest reward within each group of ``n`` consecutive samples (first on ties)."""
    g = np.asarray(rewards, float).reshape(-1, n)
    return np.arange(g.shape[0]) * n + g.argmax(1)


def expert_iteration(
    policy,
    tokenizer,
    prompts_at: Callable[[int], list],
    reward: Callable,
    cfg: ExpertIterationConfig,
    seed: int,
    measure: Callable[[], dict] | None = None,
) -> dict:
    """Optimize ``policy`` in place; returns per round the kept samples' mean reward and ``measure()``
    at round 0 (the initial policy) and after every round."""
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    device = model_device(policy)
    rounds, checkpoints, drawn, n = [], [], 0, cfg.samples_per_prompt
    if measure is not None:
        checkpoints.append({"round": 0, "samples": 0, **measure()})
    with progress_bar("expert iteration", total=cfg.rounds) as bar:
        for rnd in range(cfg.rounds):
            problems = [p for p in prompts_at(rnd) for _ in range(n)]
            prompts = [p.prompt for p in problems]
            texts, tokens = sample(
                policy, tokenizer, prompts, cfg.temperature, cfg.max_new_tokens, derive_seed(seed, "ei", rnd)
            )
            drawn += len(texts)
            r = np.asarray(reward(problems, texts), float)
            kept = picks(r, n)
            pairs = [(prompts[i], texts[i]) for i in kept]
            kept_tokens = [tokens[i] for i in kept]
            rng = random.Random(derive_seed(seed, "ei-batches", rnd))
            policy.train()
            for _ in range(cfg.finetune_steps):
                batch = rng.sample(range(len(pairs)), min(cfg.batch_size, len(pairs)))
                ids, labels = encode_pairs(tokenizer, [pairs[i] for i in batch], [kept_tokens[i] for i in batch])
                loss = lm_loss(policy, ids.to(device), labels.to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                opt.step()
            policy.eval()
            rounds.append(
                {"round": rnd + 1, "kept_reward": round(float(r[kept].mean()), 5), "reward": round(float(r.mean()), 5)}
            )
            bar.update(info=f"kept reward {r[kept].mean():.3f}")
            bar.advance(1)
            if measure is not None:
                checkpoints.append({"round": rnd + 1, "samples": drawn, **measure()})
    return {"rounds": rounds, "checkpoints": checkpoints}
