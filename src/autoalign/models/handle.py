"""What a role needs from a model, whoever serves it: one small interface, two kinds of model.

* ``generate``: completions of prompts at a temperature, reproducible from a seed;
* ``completion_logprobs``: log p(completion | prompt) of given texts (teacher forcing);
* ``chat``: replies to conversations, through the model's chat template when it has one.

A :class:`LocalModel` (``lab/`` and ``hf/`` addresses) holds the module, tokenizer and device, so
white-box roles (training, PRM and ORM scoring, probes) can use them; a remote model (``openai/``)
is black-box. A white-box role given a black-box model stops with one line (``white_box``).
"""

from __future__ import annotations

from ..errors import UserError


class LanguageModel:
    """Base of every provider's model. Subclasses implement ``generate`` and ``completion_logprobs``."""

    address: str = "?"
    is_white_box: bool = False

    def generate(
        self,
        prompts: list[str],
        temperature: float = 1.0,
        max_new_tokens: int = 64,
        seed: int = 0,
        batch_size: int = 256,
        description: str = "sampling",
        tokens_out: list | None = None,
    ) -> list[str]:
        raise NotImplementedError

    def completion_logprobs(
        self, prompts: list[str], completions: list[str], with_eos: bool = False, batch_size: int = 256
    ) -> list[float]:
        raise NotImplementedError

    def chat(
        self, conversations: list[list[dict]], temperature: float = 0.0, max_new_tokens: int = 64, seed: int = 0
    ) -> list[str]:
        """Replies to conversations (lists of ``{"role", "content"}``), rendered as plain text by default."""
        return self.generate([render_plain(c) for c in conversations], temperature, max_new_tokens, seed)

    def white_box(self, role: str) -> "LocalModel":
        """This model's weights and tokenizer for ``role``, or a one-line error if it has none."""
        raise UserError(
            f"{role} needs a white-box model (weights and tokenizer), but {self.address} is "
            "black-box (served over HTTP); give it a lab/ or hf/ address"
        )


def render_plain(conversation: list[dict]) -> str:
    """A conversation as text for a model with no chat template: ``role: content`` lines, then
    ``assistant:`` for the reply."""
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in conversation]
    return "\n".join(lines) + "\nassistant:"


class LocalModel(LanguageModel):
    """A causal LM and its tokenizer in this process (autoalign's own, or any local checkpoint)."""

    is_white_box = True

    def __init__(self, module, tokenizer, address: str = "local"):
        self.module, self.tokenizer, self.address = module, tokenizer, address

    @property
    def device(self):
        from .device import model_device

        return model_device(self.module)

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
        from .sampling import sample_solutions

        return sample_solutions(
            self.module,
            self.tokenizer,
            prompts,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
            description=description,
            tokens_out=tokens_out,
        )

    def completion_logprobs(self, prompts, completions, with_eos=False, batch_size=256):
        from .scoring import completion_logprobs

        return completion_logprobs(
            self.module, self.tokenizer, prompts, completions, batch_size=batch_size, with_eos=with_eos
        )

    def chat(self, conversations, temperature=0.0, max_new_tokens=64, seed=0):
        return self.generate(
            [self.chat_prompt(c) for c in conversations], temperature, max_new_tokens, seed, description="chatting"
        )

    def chat_prompt(self, conversation: list[dict]) -> str:
        """The text the model continues: its chat template when it has one, else plain lines. BOS,
        which a template may write itself, is left to the encoder (it adds it once)."""
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
            bos = self.tokenizer.bos_token
            return text[len(bos) :] if bos and text.startswith(bos) else text
        return render_plain(conversation)

    def white_box(self, role: str) -> "LocalModel":
        return self
