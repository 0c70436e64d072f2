"""The model work behind the endpoints, run only on the engine's worker thread.

* :func:`generate_rows`: completions through ``LocalModel.generate`` (so a served model samples
  exactly as it does in-process), with the prompt-length checks a request needs;
* :func:`score_rows`: per-token log-probabilities of ``prompt + completion`` in one teacher-forced
  forward pass, encoded as ``models.encoding`` encodes for training and scoring: BOS when the
  tokenizer uses one, the prompt's text tokenized whole, and the generator's own tokens where given.

Tokenizers are used here only, never from two threads at once. A row that cannot run (an empty
prompt with no BOS to start from, a prompt past the model's context) gets an :class:`ApiError`
as its result, so the other rows of the batch still run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..models.encoding import completion_tokens, encode_prompts, encode_with_offsets, prefix_ids
from ..models.handle import LocalModel
from .errors import ApiError

SCORE_TOKENS = 4096  # padded tokens per scoring forward pass (bounds the logits' memory)


def max_positions(lm: LocalModel) -> int | None:
    """How many positions the model can attend over, if its config says."""
    config = getattr(lm.module, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


@dataclass
class Generated:
    text: str
    tokens: list[int]
    prompt_tokens: int
    finish_reason: str  # "stop": the model ended (EOS); "length": it ran out of tokens


def _context_error(n_prompt: int, budget: int, limit: int) -> ApiError:
    return ApiError(
        400,
        f"this model's context is {limit} tokens; the prompt has {n_prompt} and max_tokens asks for {budget} more",
        "context_length_exceeded",
        "max_tokens",
    )


def generate_rows(
    lm: LocalModel,
    prompts: list[str],
    temperature: float,
    max_tokens: int | None,
    seed: int | None,
    batch_size: int,
    token_limit: int,
) -> list:
    """One :class:`Generated` (or :class:`ApiError`) per prompt. ``max_tokens=None``: as many as
    the longest prompt leaves in the context, up to ``token_limit``."""
    positions = max_positions(lm)
    lengths = [len(ids) for ids in encode_prompts(lm.tokenizer, prompts)]
    results: list = [None] * len(prompts)
    for i, n in enumerate(lengths):
        if n == 0:
            results[i] = ApiError(
                400, "the prompt is empty and this model has no BOS token to start from", "empty_prompt", "prompt"
            )
        elif positions is not None and n + (max_tokens or 0) > positions:
            results[i] = _context_error(n, max_tokens or 0, positions)
    ok = [i for i, r in enumerate(results) if r is None]
    budget = max_tokens
    if budget is None:
        budget = (
            token_limit if positions is None else min(token_limit, positions - max((lengths[i] for i in ok), default=0))
        )
    if not ok:
        return results
    if budget == 0:
        texts, tokens = [""] * len(ok), [[] for _ in ok]
    else:
        tokens = []
        texts = lm.generate(
            [prompts[i] for i in ok],
            temperature=temperature,
            max_new_tokens=budget,
            seed=random.getrandbits(31) if seed is None else seed,
            batch_size=batch_size,
            description="serving",
            tokens_out=tokens,
        )
    for i, text, toks in zip(ok, texts, tokens):
        results[i] = Generated(text, list(toks), lengths[i], "length" if len(toks) >= budget else "stop")
    return results


@dataclass
class ScoreRow:
    prompt: str
    completion: str
    tokens: list[int] | None  # the completion's own token ids, when known
    top: int  # how many alternatives to list per position


def _token_strings(tokenizer, ids: list[int], offsets: list[tuple[int, int]], text: str) -> list[str]:
    """Each token as the piece of ``text`` it covers, or its decoding where it covers none."""
    return [text[a:b] if b > a else tokenizer.decode([t]) for t, (a, b) in zip(ids, offsets)]


@torch.inference_mode()
def score_rows(lm: LocalModel, rows: list[ScoreRow], batch_size: int) -> list:
    """Per row: ``{"prompt": entries, "completion": entries, "prompt_tokens": int}``, where an entry
    is ``(token, logprob | None, offset, top | None)`` with offsets into the prompt or completion.
    The first position of a sequence has no log-probability (None); BOS, when used, is listed first
    (offset 0), so every token of the text has its true conditional log-probability."""
    tok, model = lm.tokenizer, lm.module
    pre = prefix_ids(tok)
    positions = max_positions(lm)
    prompts = encode_with_offsets(tok, [r.prompt for r in rows])
    comps = completion_tokens(tok, [r.completion for r in rows], [r.tokens for r in rows])
    seqs = [pre + p_ids + c_ids for (p_ids, _), (c_ids, _) in zip(prompts, comps)]
    results: list = [None] * len(rows)
    logps: list = [None] * len(rows)
    tops: list = [None] * len(rows)
    todo = []
    for i, seq in enumerate(seqs):
        if positions is not None and len(seq) > positions:
            results[i] = _context_error(len(seq) - len(comps[i][0]), len(comps[i][0]), positions)
        else:
            todo.append(i)
    todo.sort(key=lambda i: len(seqs[i]))
    model.eval()
    device = lm.device
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    start = 0
    while start < len(todo):
        end = start + 1
        while end < len(todo) and end - start < batch_size and (end - start + 1) * len(seqs[todo[end]]) <= SCORE_TOKENS:
            end += 1
        chunk, start = todo[start:end], end
        width = max(1, max(len(seqs[i]) for i in chunk))
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        for r, i in enumerate(chunk):  # right padding: later pads cannot change earlier logits
            ids[r, : len(seqs[i])] = torch.tensor(seqs[i], dtype=torch.long)
        ids = ids.to(device)
        logits = model(input_ids=ids).logits[:, :-1].float()
        norm = torch.logsumexp(logits, -1)
        chosen = (logits.gather(-1, ids[:, 1:, None]).squeeze(-1) - norm).cpu()
        k = max(rows[i].top for i in chunk)
        top_v, top_i = logits.topk(min(k, logits.shape[-1]), -1) if k > 0 else (None, None)
        for r, i in enumerate(chunk):
            n = len(seqs[i])
            logps[i] = [None] + chosen[r, : max(0, n - 1)].tolist()
            if rows[i].top > 0 and n > 1:
                v = (top_v[r, : n - 1, : rows[i].top] - norm[r, : n - 1, None]).cpu().tolist()
                tops[i] = [None] + list(zip(top_i[r, : n - 1, : rows[i].top].cpu().tolist(), v))
    for i in todo:
        (p_ids, p_offs), (c_ids, c_offs), row = prompts[i], comps[i], rows[i]
        ids_all = pre + p_ids + c_ids
        strings = (
            [tok.bos_token or ""] * len(pre)
            + _token_strings(tok, p_ids, p_offs, row.prompt)
            + _token_strings(tok, c_ids, c_offs, row.completion)
        )
        offsets = [0] * len(pre) + [a for a, _ in p_offs] + [a for a, _ in c_offs]
        top = tops[i] or [None] * len(ids_all)
        entries = [(s, lp, off, _top_dict(tok, t)) for s, lp, off, t in zip(strings, logps[i], offsets, top)]
        cut = len(pre) + len(p_ids)
        results[i] = {"prompt": entries[:cut], "completion": entries[cut:], "prompt_tokens": cut}
    return results


def _top_dict(tokenizer, top) -> dict[str, float] | None:
    if top is None:
        return None
    ids, values = top
    out: dict[str, float] = {}
    for t, v in zip(ids, values):
        out.setdefault(tokenizer.decode([t]), v)
    return out
