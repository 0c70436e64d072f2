"""RLOO: REINFORCE with a leave-one-out baseline and a KL penalty to the initial policy.

Each step draws ``prompts_per_step`` training prompts, samples ``samples_per_prompt`` (K) completions
of each from the current policy, and rewards them. The reward is shaped with a sequence-level KL
penalty, ``r - kl_coef * (log pi(y) - log pi_0(y))`` (the single-sample estimate of KL(pi || pi_0)
that Gao et al. and InstructGPT put in the reward), and each sample's advantage is its shaped reward
minus the mean of the other K - 1 of its prompt (Ahmadian et al. 2024). Rewards differ in scale (a
PRM's product of step probabilities lies near 0.1, a majority vote spans 0..1, a log-likelihood is in
nats), and the KL penalty is not scale-free: with ``standardize`` each batch's rewards are z-scored
first, so ``kl_coef`` weighs KL against a reward of unit spread whichever reward it is. The loss is
``-mean(advantage * log pi(y))``: one on-policy gradient step per batch, so no importance ratio or
clipping is needed (GRPO with a single update per batch reduces to this, with a different baseline).

Why not TRL's ``GRPOTrainer``: it samples through ``model.generate`` or vLLM (every other autoalign
experiment samples through its own seeded decode loop, and the over-optimization curves must compare
policies sampled the same way), it is driven by a ``datasets.Dataset`` and its own trainer loop, and
its KL term is a per-token estimator with its own coefficient conventions; the loop here is about 60
lines and penalizes the same sequence-level KL that ``measure.py`` reports on the x-axis. Any overseer
is still a TRL reward function (``overseers.base.OverseerReward``) for those who use TRL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..runtime.progress import progress_bar
from ..seeding import derive_seed
from .policy import ended, logprobs_no_grad, require_unit_temperature, sample, sequence_logprobs


@dataclass(frozen=True)
class RLConfig:
    steps: int = 150
    prompts_per_step: int = 16
    samples_per_prompt: int = 8
    lr: float = 1e-4
    kl_coef: float = 0.05
    temperature: float = 1.0
    max_new_tokens: int = 64
    measure_every: int = 25
    standardize: bool = False  # z-score each batch's rewards before the KL penalty (see the module docstring)


def leave_one_out(shaped: np.ndarray, k: int) -> np.ndarray:
    """Advantages: each value minus the mean of the other ``k - 1`` of its group (groups of ``k``
    consecutive values)."""
    g = shaped.reshape(-1, k)
    return (g - (g.sum(1, keepdims=True) - g) / (k - 1)).reshape(-1)


def rloo(
    policy,
    reference,
    tokenizer,
    prompts_at: Callable[[int], list],
    reward: Callable,
    cfg: RLConfig,
    seed: int,
    measure: Callable[[], dict] | None = None,
) -> dict:
    """Optimize ``policy`` in place; returns ``{"steps": [...], "checkpoints": [...]}``: per step the
    mean reward and KL estimate, and ``measure()``'s dict at step 0, every ``measure_every`` steps and
    at the end (with the step and the samples drawn so far)."""
    if cfg.samples_per_prompt < 2:
        raise ValueError("RLOO needs at least 2 samples per prompt (the leave-one-out baseline)")
    require_unit_temperature(cfg.temperature, "RLOO")
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.95))
    reference.eval()
    steps, checkpoints, drawn = [], [], 0

    def checkpoint(step: int) -> None:
        if measure is not None:
            checkpoints.append({"step": step, "samples": drawn, **measure()})

    checkpoint(0)
    k = cfg.samples_per_prompt
    with progress_bar("optimizing the policy (RLOO)", total=cfg.steps) as bar:
        for step in range(cfg.steps):
            problems = [p for p in prompts_at(step) for _ in range(k)]
            prompts = [p.prompt for p in problems]
            policy.eval()
            texts, tokens = sample(
                policy, tokenizer, prompts, cfg.temperature, cfg.max_new_tokens, derive_seed(seed, "rloo", step)
            )
            drawn += len(texts)
            r = np.asarray(reward(problems, texts), float)
            shaped = (r - r.mean()) / (r.std() + 1e-8) if cfg.standardize else r
            finished = ended(tokens, cfg.max_new_tokens)
            ref = logprobs_no_grad(reference, tokenizer, prompts, texts, tokens, finished)
            logp, _ = sequence_logprobs(policy, tokenizer, prompts, texts, tokens, finished)
            kl = (logp.detach().cpu() - ref).numpy()
            advantage = torch.tensor(leave_one_out(shaped - cfg.kl_coef * kl, k), dtype=logp.dtype, device=logp.device)
            loss = -(advantage * logp).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
            steps.append({"step": step + 1, "reward": round(float(r.mean()), 5), "kl": round(float(kl.mean()), 5)})
            bar.update(info=f"reward {r.mean():.3f} kl {kl.mean():.2f}")
            bar.advance(1)
            if (step + 1) % cfg.measure_every == 0 or step + 1 == cfg.steps:
                checkpoint(step + 1)
    return {"steps": steps, "checkpoints": checkpoints}
