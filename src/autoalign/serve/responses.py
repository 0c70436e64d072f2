"""OpenAI's response bodies, built from the worker's results (plain dicts, JSON-ready).

Choices are ordered as OpenAI orders them: for prompts P and ``n`` samples each, choice
``i * n + j`` is sample ``j`` of prompt ``i``. Log-probabilities of text offsets index the text the
choice returns (the prompt and completion with ``echo``, the completion alone without).
"""

from __future__ import annotations

import time
import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def apply_stops(text: str, stops: list[str]) -> tuple[str, bool]:
    """``text`` cut before the first stop sequence, and whether one was found."""
    cuts = [text.find(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def completion_logprobs(entries: list, top: int) -> dict:
    """The ``logprobs`` object of a text completion choice."""
    return {
        "tokens": [e[0] for e in entries],
        "token_logprobs": [e[1] for e in entries],
        "top_logprobs": [e[3] for e in entries] if top > 0 else None,
        "text_offset": [e[2] for e in entries],
    }


def chat_logprobs(entries: list, top: int) -> dict:
    """The ``logprobs`` object of a chat choice: one item per generated token."""

    def item(token: str, logprob: float) -> dict:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    content = []
    for token, logprob, _, alternatives in entries:
        entry = item(token, logprob)
        entry["top_logprobs"] = [item(t, v) for t, v in (alternatives or {}).items()][:top]
        content.append(entry)
    return {"content": content, "refusal": None}


def shifted(entries: list, by: int) -> list:
    return [(t, lp, off + by, top) for t, lp, off, top in entries]


def envelope(kind: str, model: str, choices: list[dict], prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "id": new_id("cmpl" if kind == "text_completion" else "chatcmpl"),
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def model_card(model_id: str, created: int) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "autoalign"}
