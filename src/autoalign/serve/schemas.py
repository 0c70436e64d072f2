"""The request bodies the server accepts, as strict pydantic models.

Strict types (a string is not a number, ``true`` is not an integer, NaN is not a temperature) and
bounds on every number turn each malformed request into one 400 naming the field. A field sent as
``null`` means "use the default", as OpenAI reads it; fields this server does not implement
(``frequency_penalty``, ``user``, ...) are accepted and ignored, so ordinary clients work unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def _utf8(text: str) -> str:
    """Reject lone surrogates (``"\\ud800"`` in JSON): no tokenizer or JSON response can carry them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (a lone surrogate)") from None
    return text


Text = Annotated[str, AfterValidator(_utf8)]
Stop = Annotated[str, Field(min_length=1), AfterValidator(_utf8)]
Seed = Annotated[int, Field(ge=-(2**63), lt=2**64)]


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)

    model: Annotated[str, Field(min_length=1, max_length=1000)]
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0  # accepted; sampling is always over the full distribution
    n: Annotated[int, Field(ge=1, le=128)] = 1
    seed: Seed | None = None
    stop: Stop | Annotated[list[Stop], Field(max_length=4)] | None = None
    stream: bool = False

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data):
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data

    def stops(self) -> list[str]:
        return [] if self.stop is None else [self.stop] if isinstance(self.stop, str) else list(self.stop)


class CompletionRequest(_Request):
    prompt: Text | Annotated[list[Text], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=0)] = 16
    echo: bool = False
    logprobs: Annotated[int, Field(ge=0, le=20)] | None = None

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    type: Literal["text"]
    text: Text


class Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    role: Annotated[str, Field(min_length=1, max_length=64)]
    content: Text | list[TextPart] | None = None

    def as_dict(self) -> dict:
        content = (
            self.content
            if isinstance(self.content, str) or self.content is None
            else "".join(p.text for p in self.content)
        )
        return {"role": self.role, "content": content or ""}


class ChatRequest(_Request):
    messages: Annotated[list[Message], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=0)] | None = None  # None: as many as the context leaves
    max_completion_tokens: Annotated[int, Field(ge=0)] | None = None  # OpenAI's newer name
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None

    def token_budget(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
