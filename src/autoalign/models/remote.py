"""``openai/<model>``: a model behind any OpenAI-compatible server (vLLM, Ollama, llama.cpp,
``autoalign serve``, or OpenAI itself), reached with the official ``openai`` client.

The server's base URL comes from the run config's provider settings (``providers: {openai:
{base_url: ...}}``) or ``OPENAI_BASE_URL``; the key from ``OPENAI_API_KEY`` (local servers that check
none accept any; a key never goes in a config, which every run saves). Remote models are black-box:
they generate, chat, and report log-probabilities of given text through ``echo``, but cannot be
fine-tuned or probed, and roles that need that say so in one line.
"""

from __future__ import annotations

import os

from pydantic import Field

from ..errors import UserError
from ..protocol import Section
from ..runtime.progress import progress_bar
from ..seeding import derive_seed
from .handle import LanguageModel
from .providers import provider


class OpenAISettings(Section):
    """``providers: {openai: ...}``: how to reach the server of ``openai/`` addresses."""

    base_url: str | None = Field(
        None,
        min_length=1,
        description=("The server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (else OPENAI_BASE_URL)."),
    )
    timeout: float = Field(600.0, gt=0, description="Seconds to wait for one request.")


def base_url(settings: OpenAISettings | None = None) -> str:
    url = (settings.base_url if settings is not None else None) or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise UserError(
            "openai/ models need a server: set providers.openai.base_url in the config or "
            "OPENAI_BASE_URL (for example http://127.0.0.1:8000/v1)"
        )
    return url


class RemoteModel(LanguageModel):
    """A model served over HTTP. Requests carry at most ``batch_size`` prompts each."""

    def __init__(self, name: str, url: str | None = None, api_key: str | None = None, timeout: float = 600.0):
        try:
            from openai import OpenAI
        except ImportError:  # pragma: no cover - an extra
            raise UserError("openai/ models need the openai client: pip install 'autoalign[serve]'") from None
        self.name, self.address = name, f"openai/{name}"
        self.url = url or base_url()
        self.client = OpenAI(
            base_url=self.url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=timeout,
            max_retries=2,
        )

    def _call(self, fn, **kwargs):
        import openai

        try:
            return fn(model=self.name, **kwargs)
        except openai.APIConnectionError:
            raise UserError(f"{self.address}: cannot reach the server at {self.url}") from None
        except openai.APIStatusError as e:
            raise UserError(
                f"{self.address}: the server at {self.url} answered {e.status_code}: "
                f"{str(e.message).splitlines()[0][:200]}"
            ) from None

    def generate(
        self,
        prompts,
        temperature=1.0,
        max_new_tokens=64,
        seed=0,
        batch_size=256,
        description="sampling",
        tokens_out=None,
    ):
        out: list[str] = []
        with progress_bar(description, total=len(prompts)) as bar:
            for b, start in enumerate(range(0, len(prompts), batch_size)):
                chunk = prompts[start : start + batch_size]
                r = self._call(
                    self.client.completions.create,
                    prompt=chunk,
                    max_tokens=max_new_tokens,
                    temperature=temperature,
                    seed=derive_seed(seed, b),
                )
                texts = [c.text for c in sorted(r.choices, key=lambda c: c.index)]
                if len(texts) != len(chunk):
                    raise UserError(
                        f"{self.address}: the server returned {len(texts)} completions for {len(chunk)} prompts"
                    )
                out += texts
                bar.advance(len(chunk))
        if tokens_out is not None:
            tokens_out[:] = [None] * len(prompts)  # the server's token ids are not ours to reuse
        return out

    def completion_logprobs(self, prompts, completions, with_eos=False, batch_size=256):
        """Sum of the log-probabilities of the tokens that start inside the completion, from the
        server's echo of ``prompt + completion`` (the end-of-text token is not scored)."""
        out: list[float] = []
        for start in range(0, len(prompts), batch_size):
            ps, cs = prompts[start : start + batch_size], completions[start : start + batch_size]
            r = self._call(
                self.client.completions.create,
                prompt=[p + c for p, c in zip(ps, cs)],
                max_tokens=0,
                echo=True,
                logprobs=0,
                temperature=0.0,
            )
            for p, choice in zip(ps, sorted(r.choices, key=lambda c: c.index)):
                lp = choice.logprobs
                if lp is None or lp.text_offset is None or lp.token_logprobs is None:
                    raise UserError(f"{self.address}: the server gives no echoed log-probabilities")
                out.append(
                    float(
                        sum(x for off, x in zip(lp.text_offset, lp.token_logprobs) if off >= len(p) and x is not None)
                    )
                )
        return out

    def chat(self, conversations, temperature=0.0, max_new_tokens=64, seed=0):
        out = []
        for i, messages in enumerate(conversations):
            r = self._call(
                self.client.chat.completions.create,
                messages=messages,
                max_tokens=max_new_tokens,
                temperature=temperature,
                seed=derive_seed(seed, i),
            )
            out.append(r.choices[0].message.content or "")
        return out


@provider("openai", settings=OpenAISettings)
def open_openai(name: str, settings: OpenAISettings) -> LanguageModel:
    return RemoteModel(name, url=base_url(settings), timeout=settings.timeout)
