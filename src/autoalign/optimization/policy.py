"""What every policy optimizer needs of a causal LM: its samples with their tokens, and the
log-probability of those exact tokens, with gradients (the policy) or without (the reference).

A sample's log-probability counts its tokens and the end token after them: ``sample_solutions``
strips the end token, and a sample cut at ``max_new_tokens`` (rare: solutions are far shorter) is
scored as if it had ended there, a small bias stated here rather than hidden. Dropout stays off
(``eval`` mode) while optimizing, so the log-probabilities trained on are those of the distribution
sampled from.
"""

from __future__ import annotations

import torch

from ..models.device import model_device
from ..models.encoding import IGNORE, encode_pairs
from ..models.sampling import sample_solutions


def sample(
    policy, tokenizer, prompts: list[str], temperature: float, max_new_tokens: int, seed: int, batch_size: int = 512
):
    """(texts, tokens) of one sample per prompt, reproducible from ``seed``."""
    tokens: list = []
    texts = sample_solutions(
        policy,
        tokenizer,
        prompts,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        description="sampling the policy",
        tokens_out=tokens,
    )
    return texts, tokens


def sequence_logprobs(model, tokenizer, prompts: list[str], texts: list[str], tokens: list | None = None):
    """(sum of log p over each completion's tokens and its end token, token counts): differentiable."""
    ids, labels = encode_pairs(tokenizer, list(zip(prompts, texts)), tokens, with_eos=True)
    device = model_device(model)
    ids, labels = ids.to(device), labels.to(device)
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    logp = torch.log_softmax(logits, -1).gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)
    return (logp * mask).sum(1), mask.sum(1)


@torch.inference_mode()
def logprobs_no_grad(
    model, tokenizer, prompts: list[str], texts: list[str], tokens: list | None = None, batch_size: int = 512
):
    """``sequence_logprobs`` without gradients, in batches: a float tensor, one value per text."""
    model.eval()
    out = []
    for a in range(0, len(texts), batch_size):
        b = a + batch_size
        logp, _ = sequence_logprobs(model, tokenizer, prompts[a:b], texts[a:b], tokens[a:b] if tokens else None)
        out.append(logp.cpu())
    return torch.cat(out) if out else torch.zeros(0)
