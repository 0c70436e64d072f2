"""The OpenAI-compatible HTTP app: ``GET /v1/models``, ``POST /v1/completions``,
``POST /v1/chat/completions`` (and ``GET /health``), for any :class:`LocalModel`.

Handlers only check and shape requests; the model work goes to the engine's single worker thread
and is awaited, so the event loop keeps answering (and queueing) while a batch runs. Limits keep a
request from asking for more than the server will do: a body size, prompts per request, tokens per
completion (never more than the model's context). ``autoalign serve`` builds this app; tests and
scripts can build it with :func:`make_app` and run it under any ASGI server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from pydantic import ValidationError

from ..models.handle import LocalModel
from . import responses as R
from .engine import Engine
from .errors import ApiError, install_error_handlers, internal_error
from .schemas import ChatRequest, CompletionRequest, Message, TextPart
from .work import ScoreRow, generate_rows, max_positions, score_rows

FIELDS = {f for schema in (CompletionRequest, ChatRequest, Message, TextPart) for f in schema.model_fields}
GREEDY_BELOW = 1e-4  # temperatures this low sample as greedy (dividing logits by them overflows)


@dataclass(frozen=True)
class Limits:
    max_tokens: int = 1024  # per completion; also never past the model's context
    max_prompts: int = 4096  # prompts x n in one request
    max_body_bytes: int = 8 * 2**20
    max_batch: int = 64  # rows per batched model call


def make_app(
    models: dict[str, LocalModel],
    api_key: str | None = None,
    max_batch: int = 64,
    max_tokens: int = 1024,
    max_prompts: int = 4096,
    max_body_bytes: int = 8 * 2**20,
) -> FastAPI:
    """An app serving ``models`` under their ids; with ``api_key``, every /v1 request must carry
    ``Authorization: Bearer <api_key>``."""
    limits = Limits(max_tokens, max_prompts, max_body_bytes, max_batch)
    engine = Engine(max_batch)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.start()
        yield
        await asyncio.get_running_loop().run_in_executor(None, engine.stop)

    app = FastAPI(title="autoalign", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.limits, app.state.models = engine, limits, models
    install_error_handlers(app)

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send Authorization: Bearer <key>", "invalid_api_key")

    def find(model_id: str) -> LocalModel:
        if model_id not in models:
            raise ApiError(
                404,
                f"the model {model_id!r} does not exist; this server has: {', '.join(models)}",
                "model_not_found",
                "model",
            )
        return models[model_id]

    def token_cap(lm: LocalModel) -> int:
        positions = max_positions(lm)
        return limits.max_tokens if positions is None else min(limits.max_tokens, positions)

    async def run(key, items: list, fn) -> list:
        try:
            return await asyncio.wrap_future(engine.submit(key, items, fn))
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - the request fails, the server goes on
            raise internal_error(exc) from None

    async def generate(
        model_id: str, lm: LocalModel, prompts: list[str], temperature: float, budget: int | None, seed: int | None
    ) -> list:
        temperature = 0.0 if temperature < GREEDY_BELOW else temperature
        # Sampling with a given seed must not depend on what else is queued, nor may a budget that
        # fits the longest prompt of a batch ("as many as fit"): such jobs run alone.
        alone = (temperature > 0 and seed is not None) or budget is None
        key = None if alone else ("generate", model_id, temperature, budget)
        cap = token_cap(lm)
        return await run(
            key, prompts, lambda rows: generate_rows(lm, rows, temperature, budget, seed, limits.max_batch, cap)
        )

    async def score(model_id: str, lm: LocalModel, rows: list[ScoreRow]) -> list:
        return await run(("score", model_id), rows, lambda items: score_rows(lm, items, limits.max_batch))

    def check_common(req, lm: LocalModel, n_prompts: int, budget: int | None) -> None:
        if req.stream:
            raise ApiError(400, "streaming is not supported by this server; send stream=false", "unsupported", "stream")
        if n_prompts * req.n > limits.max_prompts:
            raise ApiError(
                400,
                f"{n_prompts} prompts x n={req.n} is more than the {limits.max_prompts} completions "
                "one request may ask for",
                "too_many_prompts",
                "prompt",
            )
        if budget is not None and budget > token_cap(lm):
            raise ApiError(
                400,
                f"max_tokens is {budget}; at most {token_cap(lm)} for this model",
                "max_tokens_too_large",
                "max_tokens",
            )

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": list(models)}

    @app.get("/v1/models")
    async def list_models(request: Request):
        authorize(request)
        return {"object": "list", "data": [R.model_card(m, created) for m in models]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request):
        authorize(request)
        find(model_id)
        return R.model_card(model_id, created)

    @app.post("/v1/completions")
    async def completions(request: Request):
        authorize(request)
        req = await parse(request, CompletionRequest, limits.max_body_bytes)
        lm = find(req.model)
        prompts, n = req.prompts(), req.n
        check_common(req, lm, len(prompts), req.max_tokens)
        rows = [p for p in prompts for _ in range(n)]
        gens = await generate(req.model, lm, rows, req.temperature, req.max_tokens, req.seed)
        texts, stopped = zip(*(R.apply_stops(g.text, req.stops()) for g in gens))
        scores = None
        if req.logprobs is not None:
            items = [
                ScoreRow(p, t, None if s else g.tokens, req.logprobs) for p, t, s, g in zip(rows, texts, stopped, gens)
            ]
            scores = await score(req.model, lm, items)
        choices = []
        for k, (prompt, text, stop, g) in enumerate(zip(rows, texts, stopped, gens)):
            logprobs = None
            if scores is not None:
                s = scores[k]
                entries = s["prompt"] + R.shifted(s["completion"], len(prompt)) if req.echo else s["completion"]
                logprobs = R.completion_logprobs(entries, req.logprobs)
            choices.append(
                {
                    "index": k,
                    "text": prompt + text if req.echo else text,
                    "logprobs": logprobs,
                    "finish_reason": "stop" if stop else g.finish_reason,
                }
            )
        used = sum(g.prompt_tokens for g in gens[::n])
        return R.envelope("text_completion", req.model, choices, used, sum(len(g.tokens) for g in gens))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        authorize(request)
        req = await parse(request, ChatRequest, limits.max_body_bytes)
        lm = find(req.model)
        budget = req.token_budget()
        check_common(req, lm, 1, budget)
        try:
            prompt = lm.chat_prompt([m.as_dict() for m in req.messages])
        except Exception as exc:  # noqa: BLE001 - a template that rejects the conversation
            raise ApiError(
                400, f"the model's chat template rejects these messages: {exc}", "invalid_messages", "messages"
            ) from None
        rows = [prompt] * req.n
        gens = await generate(req.model, lm, rows, req.temperature, budget, req.seed)
        texts, stopped = zip(*(R.apply_stops(g.text, req.stops()) for g in gens))
        scores = None
        if req.logprobs:
            top = req.top_logprobs or 0
            scores = await score(
                req.model,
                lm,
                [ScoreRow(prompt, t, None if s else g.tokens, top) for t, s, g in zip(texts, stopped, gens)],
            )
        choices = [
            {
                "index": j,
                "message": {"role": "assistant", "content": text},
                "logprobs": R.chat_logprobs(scores[j]["completion"], req.top_logprobs or 0) if scores else None,
                "finish_reason": "stop" if stop else g.finish_reason,
            }
            for j, (text, stop, g) in enumerate(zip(texts, stopped, gens))
        ]
        return R.envelope(
            "chat.completion", req.model, choices, gens[0].prompt_tokens, sum(len(g.tokens) for g in gens)
        )

    return app


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "Content-Length is not a number", "invalid_header") from None
        if too_big:
            raise ApiError(413, f"the request body is over {limit} bytes", "request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over {limit} bytes", "request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(request: Request, schema, limit: int):
    """The body as ``schema``: broken JSON and every invalid field are a 400 naming the problem."""
    body = await read_body(request, limit)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {str(exc)[:200]}", "invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_json")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # pydantic's location names union members too ("prompt.list[str].0"): keep fields and indices
        loc = [str(p) for p in first["loc"] if isinstance(p, int) or p in FIELDS]
        raise ApiError(
            400, f"{'.'.join(loc) or 'body'}: {first['msg']}", "invalid_value", loc[0] if loc else None
        ) from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply", "invalid_json") from None
