"""Log-probability of given completions under a causal LM, batched (teacher forcing, no sampling).

Serves every "how much does the model believe this text" question: a discriminator's verdict
(log P("flawed") vs log P("sound")), a critic's score for its own sampled critiques, likelihood
baselines.
"""

from __future__ import annotations

import torch

from .device import model_device
from .encoding import IGNORE, encode_pairs


@torch.inference_mode()
def completion_logprobs(
    model,
    tokenizer,
    prompts: list[str],
    completions: list[str],
    batch_size: int = 256,
    with_eos: bool = True,
    tokens: list | None = None,
) -> list[float]:
    """Sum of log p(completion tokens [+ EOS] | prompt), one float per (prompt, completion);
    ``tokens`` optionally gives each completion's own token ids (as the generator wrote them)."""
    model.eval()
    device = model_device(model)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(completions[i]))
    out = [0.0] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, labels = encode_pairs(
            tokenizer,
            [(prompts[i], completions[i]) for i in idx],
            [tokens[i] for i in idx] if tokens is not None else None,
            with_eos=with_eos,
        )
        ids, labels = ids.to(device), labels.to(device)
        logits = model(input_ids=ids).logits[:, :-1].float()
        target = labels[:, 1:]
        logp = torch.log_softmax(logits, -1).gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)
        sums = (logp * (target != IGNORE)).sum(1)
        for r, i in enumerate(idx):
            out[i] = float(sums[r])
    return out
