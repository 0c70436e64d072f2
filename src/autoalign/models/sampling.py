"""Batched sampling at temperature T with a KV cache, reproducible from a seed.

Prompts are sorted by length and sampled in batches, so padding is rare; each batch draws from a
generator seeded by (seed, batch index), so the same call gives the same texts whatever ran before.
Works for our tiny models and any local Hugging Face causal LM alike: decoding runs in our own loop
(``decoding.py``: the tokens ``model.generate`` writes, with less work per step; ``compaction.py``: the
same tokens, with rows that have finished dropped from the batch), or in ``model.generate`` for a model
that loop does not support.
"""

from __future__ import annotations

import torch

from ..runtime.progress import progress_bar
from ..seeding import derive_seed
from .compaction import decode
from .decoding import unsupported_reason
from .device import model_device
from .encoding import encode_prompts


@torch.inference_mode()
def sample_solutions(
    model,
    tokenizer,
    prompts: list[str],
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    batch_size: int = 256,
    seed: int = 0,
    description: str = "sampling",
    stats: dict | None = None,
    tokens_out: list | None = None,
) -> list[str]:
    """One completion per prompt (repeat a prompt to get K samples), decoded to text.

    The prompt is encoded as training encoded it (BOS if the tokenizer uses one). If ``tokens_out``
    is given it receives, per prompt, the generated token ids (up to EOS), so that a verifier can
    later score exactly the tokens the model wrote.

    If ``stats`` is given it receives ``new_tokens`` (tokens generated up to and including EOS)
    and ``positions`` (rows x decoding steps of each batch), for throughput measurements.
    """
    counts = {"new_tokens": 0, "positions": 0}
    model.eval()
    encoded = encode_prompts(tokenizer, prompts)
    device = model_device(model)
    token_ids: list = [None] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    out: list[str | None] = [None] * len(prompts)
    pad = tokenizer.pad_token_id
    eos = tokenizer.eos_token_id
    fallback = unsupported_reason(model)
    with progress_bar(description, total=len(prompts)) as bar:
        for b, start in enumerate(range(0, len(order), batch_size)):
            idx = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                mask[r, width - len(encoded[i]) :] = 1
            ids, mask = ids.to(device), mask.to(device)
            torch.manual_seed(derive_seed(seed, b))
            if fallback is None:
                new = decode(model, ids, mask, max_new_tokens, temperature, pad, eos).cpu()
            else:
                new = generate_new_tokens(model, ids, mask, max_new_tokens, temperature, pad, eos).cpu()
            counts["positions"] += int(new.numel())
            for r, i in enumerate(idx):
                toks = new[r].tolist()
                if eos in toks:
                    toks = toks[: toks.index(eos)]
                    counts["new_tokens"] += 1
                counts["new_tokens"] += len(toks)
                token_ids[i] = toks
                out[i] = tokenizer.decode(toks, skip_special_tokens=True)
            bar.advance(len(idx))
    if stats is not None:
        stats.update(counts)
    if tokens_out is not None:
        tokens_out[:] = token_ids
    return out  # type: ignore[return-value]


def generate_new_tokens(model, ids, mask, max_new_tokens: int, temperature: float, pad: int, eos) -> torch.Tensor:
    """The new tokens of ``model.generate`` for left-padded ``ids`` (the fallback, and the reference
    ``decoding.decode`` is checked against)."""
    kwargs = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
    if temperature == 0:
        kwargs = dict(do_sample=False)
    gen = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad,
        eos_token_id=eos,
        **kwargs,
    )
    return gen[:, ids.shape[1] :]
