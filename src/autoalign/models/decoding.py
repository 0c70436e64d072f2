"""A hand-written decoding loop that writes the same tokens as ``model.generate``, with less work per step.

Why: ``generate`` does bookkeeping around every forward pass that the tokens do not need. It grows every
layer's key/value cache by concatenation (a copy of the whole cache per step, the costliest of it),
re-prepares the inputs, grows the attention mask and position ids by concatenation, rebuilds the
attention mask inside the model, and runs its logits processors and stopping criteria. This loop calls
the model's forward with inputs equal to ``generate``'s and removes the rest:

  * each layer's keys and values are written in place into a buffer with a little spare room (re-allocated
    when full) and attention reads a view of the filled part: the values and length ``generate``'s cache holds;
  * position ids and the attention mask (for SDPA the (batch, 1, 1, length) padding mask the model
    would build) are built once per batch and sliced per step;
  * sampling is ``generate``'s own arithmetic, inlined: logits copied to float32, divided by the
    temperature (when it is not 1), softmax, one ``torch.multinomial`` over the whole batch every step
    (finished rows included, so the random stream is consumed identically), then finished rows padded.

So for the same seed the tokens are equal to ``generate``'s, sampled or greedy (``tests/test_decoding.py``
checks it). What it cannot remove is the forward pass itself, which is most of a step on a CPU
(``bench/bench_sampling.py`` profiles both: the matmuls and the attention kernel dominate). Rows that have
finished are not dropped from the batch here: a smaller batch may run other matmul kernels, whose float
sums can differ in the last bit and so change a later token (``compaction.py``, the default, drops them
down to a floor where that does not happen, with the same tokens). ``torch.compile`` is not used for the same reason
(fused kernels round differently).

Models this loop does not know to be equivalent (``unsupported_reason``) go through ``generate``.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache

import torch

# Generation-config fields that would add a logits processor or a stopping criterion to ``generate``
# (beyond temperature and EOS), with the value at which they add none.
NEUTRAL_GENERATION = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "sequence_bias": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "remove_invalid_values": (None, False),
    "exponential_decay_length_penalty": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "guidance_scale": (None, 1.0),
    "watermarking_config": (None,),
    "renormalize_logits": (None, False),
    "min_p": (None,),
    "top_h": (None,),
    "typical_p": (None, 1.0),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "stop_strings": (None,),
    "max_time": (None,),
    "cache_implementation": (None,),
    "prefill_chunk_size": (None,),
    "num_beams": (None, 1),
    "num_return_sequences": (None, 1),
    "penalty_alpha": (None,),
    "token_healing": (None, False),
    "use_cache": (None, True),
}
ATTENTION = ("sdpa", "eager")
ROOM = 8  # spare cache positions per re-allocation (see growing_layer)
_generate_only = [False]


@contextmanager
def generate_only():
    """Within this block every model decodes with ``model.generate`` (benchmarks and checks compare the two)."""
    _generate_only.append(True)
    try:
        yield
    finally:
        _generate_only.pop()


@cache
def growing_layer():
    """A ``DynamicLayer`` that writes each step's keys and values in place, into a buffer with ``room``
    spare positions, and returns a view of the filled part: the values and length ``DynamicLayer``
    returns after its concatenation, without copying the whole cache every step. The buffer is
    re-allocated (one copy) when full: attention reads a strided view more slowly the more spare room
    it spans, so the room is kept small rather than sized for the whole generation."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        _layer_type = None  # never registered as a layer type of its own

        def __init__(self, room: int):
            super().__init__()
            self.room = room
            self.length = 0

        def lazy_initialization(self, key_states, value_states):
            self.device = key_states.device
            self.key_buffer = key_states.new_empty(key_states.shape[:2] + (0, key_states.shape[-1]))
            self.value_buffer = value_states.new_empty(value_states.shape[:2] + (0, value_states.shape[-1]))
            self.is_initialized = True

        def grow(self, end: int):
            key, value = self.key_buffer, self.value_buffer
            self.key_buffer = key.new_empty(key.shape[:2] + (end + self.room, key.shape[-1]))
            self.value_buffer = value.new_empty(value.shape[:2] + (end + self.room, value.shape[-1]))
            self.key_buffer[:, :, : self.length] = key[:, :, : self.length]
            self.value_buffer[:, :, : self.length] = value[:, :, : self.length]

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.key_buffer.shape[-2]:
                self.grow(end)
            self.key_buffer[:, :, self.length : end] = key_states
            self.value_buffer[:, :, self.length : end] = value_states
            self.length = end
            self.keys = self.key_buffer[:, :, :end]
            self.values = self.value_buffer[:, :, :end]
            return self.keys, self.values

    return GrowingLayer


def unsupported_reason(model) -> str | None:
    """Why this loop might not reproduce ``generate`` for ``model`` (then the caller uses ``generate``), or None."""
    if _generate_only[-1]:
        return "generate asked for"
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "generation_config"):
        return "not a Hugging Face model"
    import inspect

    from transformers.cache_utils import DynamicCache, DynamicLayer

    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    attention = getattr(config, "_attn_implementation", None)
    if attention not in ATTENTION:
        return f"attention implementation {attention!r}"
    params = inspect.signature(model.forward).parameters
    missing = [p for p in ("input_ids", "attention_mask", "position_ids", "cache", "logits_to_keep") if p not in params]
    if missing:
        return f"forward takes no {', '.join(missing)}"
    default_cache = getattr(model, "_supports_default_dynamic_cache", None)
    if default_cache is None or not default_cache():
        return "model does not use the default dynamic cache"
    layers = DynamicCache(config=config.get_text_config(decoder=True)).layers
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return "cache layers other than full attention (sliding window, linear attention)"
    generation = model.generation_config
    for field, neutral in NEUTRAL_GENERATION.items():
        if getattr(generation, field, None) not in neutral:
            return f"generation config sets {field}"
    return None


def new_cache(model, room: int = ROOM):
    from transformers.cache_utils import DynamicCache

    cache_ = DynamicCache(config=model.config.get_text_config(decoder=True))
    cache_.layers = [growing_layer()(room) for _ in cache_.layers]
    return cache_


def next_tokens(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``generate``'s token selection: argmax at temperature 0, else a multinomial draw per row from
    softmax(logits / temperature) in float32."""
    scores = logits.to(copy=True, dtype=torch.float32)
    if temperature == 0:
        return torch.argmax(scores, dim=-1)
    if temperature != 1.0:
        scores = scores / temperature
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return torch.multinomial(probs, num_samples=1).squeeze(1)


def step_inputs(model, attention_mask: torch.Tensor, max_new_tokens: int):
    """Position ids and attention masks for the prompt and every decoding step, built once: what
    ``generate`` passes its forward, sliced per step (``slice_for(length, new)``)."""
    batch = attention_mask.shape[0]
    ones = attention_mask.new_ones((batch, max_new_tokens))
    # generate: positions from the left-padding mask (pads at 0), then one more per step
    positions = attention_mask.long().cumsum(-1) - 1
    positions = positions.masked_fill(attention_mask == 0, 0)
    positions = torch.cat([positions, positions[:, -1:] + ones.cumsum(-1)], dim=-1)
    # generate drops a mask of all ones (no padding); else it grows the 2D mask by a column of ones per step,
    # which the model turns, for SDPA and one new position, into the (batch, 1, 1, length) padding mask
    padded = not bool((attention_mask == 1).all())
    mask = torch.cat([attention_mask, ones], dim=-1)
    sdpa = getattr(model.config, "_attn_implementation", None) == "sdpa"
    keys = mask.bool()[:, None, None, :]

    def slice_for(length: int, new: int):
        step_mask = None
        if padded:
            step_mask = keys[..., :length] if sdpa and new == 1 else mask[:, :length]
        return positions[:, length - new : length].contiguous(), step_mask

    return slice_for


def eos_tensor(eos, device) -> torch.Tensor:
    """The end-of-sequence ids (none, one or several) as a tensor on ``device``, for ``torch.isin``."""
    ids = [] if eos is None else eos if isinstance(eos, (list, tuple)) else [eos]
    return torch.tensor(ids, dtype=torch.long).to(device)


def last_logits(model, tokens, positions, mask, cache_) -> torch.Tensor:
    """One decoding step's forward pass, with the inputs ``generate`` would pass: the last position's logits."""
    return model(
        input_ids=tokens,
        attention_mask=mask,
        position_ids=positions,
        cache=cache_,
        use_cache=True,
        logits_to_keep=1,
        return_dict=True,
    ).logits[:, -1]


@torch.inference_mode()
def decode(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int, temperature: float, pad: int, eos
) -> torch.Tensor:
    """The new tokens ``model.generate`` would append to the left-padded ``input_ids`` (rows x steps; steps
    stop when every row has written EOS or at ``max_new_tokens``; after its EOS a row holds ``pad``).
    The caller seeds torch's generator first, as for ``generate``."""
    batch, width = input_ids.shape
    device = input_ids.device
    slice_for = step_inputs(model, attention_mask, max_new_tokens)
    eos_ids = eos_tensor(eos, device)
    cache_ = new_cache(model)
    out = torch.full((batch, max_new_tokens), pad, dtype=torch.long, device=device)
    unfinished = torch.ones(batch, dtype=torch.bool, device=device)
    tokens, length = input_ids, width
    for step in range(max_new_tokens):
        positions, mask = slice_for(length, tokens.shape[1])
        logits = last_logits(model, tokens, positions, mask, cache_)
        chosen = next_tokens(logits, temperature)
        chosen = torch.where(unfinished, chosen, pad)
        out[:, step] = chosen
        unfinished &= ~torch.isin(chosen, eos_ids)
        if not bool(unfinished.any()):
            return out[:, : step + 1]
        tokens, length = chosen[:, None], length + 1
    return out
