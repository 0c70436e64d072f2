"""How a (prompt, completion) pair becomes token ids, the same way for training, sampling and scoring.

A model conditions on ``[BOS] + tokens(prompt)`` and writes the completion's tokens after it. The
completion is tokenized as one whole text (never step by step and joined: with BPE, pieces
tokenized apart are token sequences the model never wrote), and a step, given as character
offsets into the completion, maps to the tokens whose last character lies inside it, through the
tokenizer's offsets. When the generator's own token ids are known (kept with each sample), they
are used as they are, so a verifier scores exactly what the generator wrote even where that is not
the tokenizer's canonical encoding of the text.

BOS is added when the tokenizer adds one itself (Llama-style tokenizers do; GPT-2's and
autoalign's character tokenizer do not), so a checkpoint sees the inputs it was trained on.
"""

from __future__ import annotations

import os

import torch

IGNORE = -100


def prefix_ids(tokenizer) -> list[int]:
    """``[bos_token_id]`` if the tokenizer puts BOS before a text, else ``[]``."""
    cached = getattr(tokenizer, "_autoalign_prefix", None)
    if cached is None:
        bos = tokenizer.bos_token_id
        probe = tokenizer("a", add_special_tokens=True).input_ids if bos is not None else []
        cached = [bos] if bos is not None and probe[:1] == [bos] else []
        try:
            tokenizer._autoalign_prefix = cached
        except AttributeError:  # pragma: no cover - a tokenizer that refuses attributes
            pass
    return list(cached)


def encode_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens, in one batched call to the Rust tokenizer when there is one
    (the Python wrapper's per-call overhead is a noticeable part of a tiny model's training step)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False).input_ids


def encode_prompts(tokenizer, prompts: list[str]) -> list[list[int]]:
    """What a model conditions on: BOS (if the tokenizer uses one) and the prompt's tokens."""
    pre = prefix_ids(tokenizer)
    return [pre + ids for ids in encode_texts(tokenizer, prompts)]


def encode_with_offsets(tokenizer, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """Token ids of each whole text and every token's (start, end) character offsets in it."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [(e.ids, [tuple(o) for o in e.offsets]) for e in backend.encode_batch(texts, add_special_tokens=False)]
    out = []
    for t in texts:
        enc = tokenizer(t, add_special_tokens=False, return_offsets_mapping=True)
        out.append((enc.input_ids, [tuple(o) for o in enc.offset_mapping]))
    return out


def offsets_of_tokens(tokenizer, tokens: list[int], text: str) -> list[tuple[int, int]] | None:
    """Character offsets of the generator's own tokens in ``text`` (their decoding), or None when
    the tokens do not decode to ``text`` (then the text is re-tokenized instead). A token that holds
    only part of a character (a byte of a multi-byte character, in byte-level BPE) is zero-width;
    the token that completes the character holds it."""
    prefixes = tokenizer.batch_decode([tokens[: i + 1] for i in range(len(tokens))], skip_special_tokens=True)
    if (prefixes[-1] if prefixes else "") != text:
        return None
    out, prev = [], 0
    for p in prefixes:
        end = max(prev, len(os.path.commonprefix([p, text])))
        out.append((prev, end))
        prev = end
    return out


def completion_tokens(tokenizer, texts: list[str], tokens: list[list[int] | None] | None = None):
    """Per text: (ids, offsets): the generator's tokens where given and consistent, else the text
    tokenized whole."""
    out: list = [None] * len(texts)
    todo = []
    for i, t in enumerate(texts):
        given = tokens[i] if tokens is not None else None
        offs = offsets_of_tokens(tokenizer, list(given), t) if given else None
        if offs is not None:
            out[i] = (list(given), offs)
        else:
            todo.append(i)
    for i, enc in zip(todo, encode_with_offsets(tokenizer, [texts[i] for i in todo])):
        out[i] = enc
    return out


def encode_pairs(
    tokenizer, pairs: list[tuple[str, str]], tokens: list | None = None, with_eos: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and labels (-100 on prompt and padding) for ``prompt + completion (+ eos)``.

    Right padding needs no attention mask: under causal attention, pads after a sequence cannot
    change the logits of the tokens before them.
    """
    prompts = encode_prompts(tokenizer, [p for p, _ in pairs])
    completions = [ids for ids, _ in completion_tokens(tokenizer, [s for _, s in pairs], tokens)]
    eos = [tokenizer.eos_token_id] if with_eos else []
    rows = [(p, s + eos) for p, s in zip(prompts, completions)]
    width = max(1, max(len(p) + len(s) for p, s in rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for r, (p, s) in enumerate(rows):
        ids[r, : len(p) + len(s)] = torch.tensor(p + s, dtype=torch.long)
        if s:
            labels[r, len(p) : len(p) + len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, labels


def token_steps(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """For each token the index of the step holding its last character (-1 if none), and for each
    step the index of the token holding the step's last character (-1 for an empty step)."""
    of_token = []
    for a, b in offsets:
        last = b - 1 if b > a else a
        of_token.append(next((j for j, (s, e) in enumerate(spans) if s <= last < e), -1) if b > a else -1)
    ends = []
    for s, e in spans:
        if e <= s:
            ends.append(-1)
            continue
        ends.append(next((t for t, (a, b) in enumerate(offsets) if a <= e - 1 < b), -1))
    return of_token, ends
