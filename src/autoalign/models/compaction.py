"""``decoding.decode`` with finished rows dropped from the batch: the same tokens, fewer positions computed.

Why: a batch decodes until its last row writes EOS, so with rows of unequal length much of a step's
work goes to rows that have finished (on the arithmetic generator about 40% of the positions). The loop
in ``decoding.py`` keeps them, for two reasons this module removes:

  * the random stream. ``torch.multinomial(probs, 1)`` draws one Exponential(1) noise per entry of the
    whole (batch, vocab) tensor and returns ``argmax(probs / noise)`` per row (PyTorch's one-sample fast
    path; ``tests/test_decoding.py`` checks it on the installed version). So each step draws the noise
    for the whole batch, as ``multinomial`` would, and the kept rows use their own rows of it: finished
    rows are still charged their draws, without being computed;
  * the floats. A row's values must not depend on which other rows share its batch. They do not for the
    ops of these models (row-wise norms and activations, attention per row and head) except the matrix
    products, whose kernels change for very small batches (measured: with MKL, batches under 12 rows at
    2 threads, under 4 at 1 thread, sum in another order). So the batch never shrinks below
    ``min_rows`` rows (finished ones fill it up), and a batch that starts below ``2 * min_rows`` is never
    compacted.

Prompts that repeat in a batch (K samples of one problem) are run through the model once: the prompt's
keys, values and last logits are computed for each distinct prompt and copied to its rows, which then
draw their own tokens. A row's floats do not depend on the rows beside it (above; the prompts' pass
also runs on at least ``min_rows`` rows, topped up with repeats), so the copies are what each row would
have computed; the tests check the tokens equal with and without it.

Rows are dropped when at least a quarter of the batch has finished (so the key/value cache, copied at
each compaction, is copied a few times per batch rather than every step). The tests compare the tokens
with ``decoding.decode``'s (themselves checked equal to ``model.generate``'s), greedy and sampled, with
rows finishing at different steps. ``sample_solutions`` decodes with this loop;
``bench/bench_sampling.py`` compares it with ``decoding.decode`` and ``generate`` (speed, and outputs equal
on the bench's 512 prompts).
"""

from __future__ import annotations

import torch

from .decoding import eos_tensor, last_logits, new_cache, step_inputs

MIN_ROWS = 64  # the smallest batch a compaction leaves (module docstring); more past 8 threads, see min_rows
MIN_ROWS_PER_THREAD = 8


def min_rows() -> int:
    """The smallest batch the matrix products run on: ``MIN_ROWS``, more with many threads (the kernels'
    choice depends on the rows each thread gets)."""
    return max(MIN_ROWS, MIN_ROWS_PER_THREAD * torch.get_num_threads())


def draw(logits: torch.Tensor, temperature: float, batch: int, rows: torch.Tensor | None) -> torch.Tensor:
    """``decoding.next_tokens`` for the batch's ``rows`` (None: every row) of a ``batch``-row step:
    argmax at temperature 0, else ``multinomial``'s draw, made from the whole batch's noise."""
    scores = logits.to(copy=True, dtype=torch.float32)
    if temperature == 0:
        return torch.argmax(scores, dim=-1)
    if temperature != 1.0:
        scores = scores / temperature
    probs = torch.nn.functional.softmax(scores, dim=-1)
    noise = probs.new_empty((batch, probs.shape[-1])).exponential_(1)
    if rows is not None:
        noise = noise.index_select(0, rows)
    return torch.argmax(probs / noise, dim=-1)


def kept(alive: torch.Tensor, floor: int) -> torch.Tensor | None:
    """Rows to keep (sorted): the unfinished ones, topped up with finished ones to ``floor`` rows;
    None when too few rows would go to be worth copying the cache."""
    n, live = alive.shape[0], int(alive.sum())
    size = max(live, floor)
    if 4 * size > 3 * n:
        return None
    keep = alive.clone()
    if live < size:
        dead = (~alive).nonzero().squeeze(1)
        keep[dead[: size - live]] = True
    return keep.nonzero().squeeze(1)


def distinct_prompts(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Rows to run the prompts' forward pass on (the first row of each distinct prompt, sorted by prompt,
    topped up with other rows to ``min_rows`` so that the matrix products keep their kernels) and, per
    row, the index of its prompt among them; None when that would spare less than a quarter of the rows."""
    batch = input_ids.shape[0]
    rows = torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1)
    _, inverse = torch.unique(rows, dim=0, return_inverse=True)
    n = int(inverse.max()) + 1
    size = max(n, min(min_rows(), batch))
    if 4 * size > 3 * batch:
        return None
    everyone = torch.arange(batch, device=rows.device)
    first = torch.full((n,), batch, dtype=torch.long, device=rows.device).scatter_reduce(
        0, inverse, everyone, reduce="amin"
    )
    if size > n:  # filler rows: computed, never read
        others = torch.ones(batch, dtype=torch.bool, device=rows.device)
        others[first] = False
        first = torch.cat([first, everyone[others][: size - n]])
    return first, inverse


def prompt_logits(model, input_ids, attention_mask, slice_for, cache_) -> torch.Tensor:
    """The prompt's forward pass (filling ``cache_``): once per distinct prompt, copied to its rows."""
    width = input_ids.shape[1]
    positions, mask = slice_for(width, width)
    distinct = distinct_prompts(input_ids, attention_mask)
    if distinct is None:
        return last_logits(model, input_ids, positions, mask, cache_)
    first, inverse = distinct
    mask = None if mask is None else mask.index_select(0, first)
    logits = last_logits(model, input_ids.index_select(0, first), positions.index_select(0, first), mask, cache_)
    select_rows(cache_, inverse)
    return logits.index_select(0, inverse)


def select_rows(cache_, index: torch.Tensor) -> None:
    """Keep ``index``'s rows of every layer's key/value buffer (``decoding.growing_layer``)."""
    for layer in cache_.layers:
        layer.key_buffer = layer.key_buffer.index_select(0, index)
        layer.value_buffer = layer.value_buffer.index_select(0, index)
        layer.keys = layer.key_buffer[:, :, : layer.length]
        layer.values = layer.value_buffer[:, :, : layer.length]


@torch.inference_mode()
def decode(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int, temperature: float, pad: int, eos
) -> torch.Tensor:
    """``decoding.decode``'s tokens (so ``model.generate``'s), computing only rows that have not finished."""
    batch, width = input_ids.shape
    device = input_ids.device
    slice_for = step_inputs(model, attention_mask, max_new_tokens)
    eos_ids = eos_tensor(eos, device)
    cache_ = new_cache(model)
    out = torch.full((batch, max_new_tokens), pad, dtype=torch.long, device=device)
    alive = torch.ones(batch, dtype=torch.bool, device=device)
    rows = None  # the full batch's row of each computed row, once some were dropped
    floor = min_rows() if batch >= 2 * min_rows() else batch
    logits = prompt_logits(model, input_ids, attention_mask, slice_for, cache_)
    chosen, length = None, width
    for step in range(max_new_tokens):
        if chosen is not None:  # the last step's tokens, through the model
            length += 1
            positions, mask = slice_for(length, 1)
            if rows is not None:
                positions = positions.index_select(0, rows)
                mask = None if mask is None else mask.index_select(0, rows)
            logits = last_logits(model, chosen[:, None], positions, mask, cache_)
        chosen = torch.where(alive, draw(logits, temperature, batch, rows), pad)
        if rows is None:
            out[:, step] = chosen
        else:
            out[rows, step] = chosen
        alive &= ~torch.isin(chosen, eos_ids)
        if not bool(alive.any()):
            return out[:, : step + 1]
        keep = kept(alive, floor)
        if keep is not None:
            select_rows(cache_, keep)
            rows = keep if rows is None else rows.index_select(0, keep)
            alive, chosen = alive.index_select(0, keep), chosen.index_select(0, keep)
    return out
