"""What every policy optimizer needs of a causal LM: its samples with their tokens, and the
log-probability of those exact tokens, with gradients (the policy) or without (the reference).

A sample's log-probability counts its tokens and, when the sample ended (it wrote the end token
before ``max_new_tokens``), that end token; a sample cut at ``max_new_tokens`` never drew one, so
none is scored (``ended``): neither the KL estimate nor the policy gradient counts a token that was
not sampled. Log-probabilities are at temperature 1: the optimizers and the KL estimate sample at
T = 1, where these are the sampling distribution's. Dropout stays off
(``eval`` mode) while optimizing, so the log-probabilities trained on are those of the distribution
sampled from.
"""

from __future__ import annotations

import torch

from ..models.device import model_device
from ..models.encoding import IGNORE, encode_pairs
from ..models.sampling import sample_solutions


def require_unit_temperature(temperature: float, what: str) -> None:
    if temperature != 1.0:
        raise ValueError(
            f"{what} samples at temperature 1 (sampling.temperature is {temperature}): its log-probabilities and "
            "KL are those of the distribution sampled from only there"
        )


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


def ended(tokens: list, max_new_tokens: int) -> list[bool]:
    """Per sample: did it end by itself (an end token before ``max_new_tokens``)?"""
    return [len(t) < max_new_tokens for t in tokens]


def sequence_logprobs(
    model, tokenizer, prompts: list[str], texts: list[str], tokens: list | None = None, finished: list | None = None
):
    """(sum of log p over each completion's tokens and its end token, token counts): differentiable.
    ``finished[i]`` False: sample ``i`` was cut short, so its (unsampled) end token is not counted."""
    ids, labels = encode_pairs(tokenizer, list(zip(prompts, texts)), tokens, with_eos=True)
    device = model_device(model)
    ids, labels = ids.to(device), labels.to(device)
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    if finished is not None and not all(finished):
        last = mask.long().cumsum(1).argmax(1)  # the first position reaching the full count: the end token
        cut = torch.tensor([not f for f in finished], device=mask.device)
        mask[cut, last[cut]] = False
    logp = torch.log_softmax(logits, -1).gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)
    return (logp * mask).sum(1), mask.sum(1)


@torch.inference_mode()
def logprobs_no_grad(
    model,
    tokenizer,
    prompts: list[str],
    texts: list[str],
    tokens: list | None = None,
    finished: list | None = None,
    batch_size: int = 512,
):
    """``sequence_logprobs`` without gradients, in batches: a float tensor, one value per text."""
    model.eval()
    out = []
    for a in range(0, len(texts), batch_size):
        b = a + batch_size
        logp, _ = sequence_logprobs(
            model,
            tokenizer,
            prompts[a:b],
            texts[a:b],
            tokens[a:b] if tokens else None,
            finished[a:b] if finished is not None else None,
        )
        out.append(logp.cpu())
    return torch.cat(out) if out else torch.zeros(0)
