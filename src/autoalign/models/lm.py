"""Tiny causal language models built from a config, and the one loader for any local checkpoint.

Named sizes span about 0.1M to 5M parameters. Models are plain transformers models made with
``from_config``, so ``save_pretrained`` / ``from_pretrained`` serve a toy model trained here and a
real Hugging Face checkpoint folder alike. Loading never touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from ..errors import UserError


@cache
def transformers_lib():
    """transformers, imported on first use: it adds about 3 s to every process that imports it, and a
    config check, a report or a CLI error need no model. Our own progress bars describe the work; the
    library's per-shard bars only add noise."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return transformers


@dataclass(frozen=True)
class Size:
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int


SIZES = {
    "micro": Size(64, 2, 4, 192),  # about 0.1M
    "tiny": Size(96, 2, 4, 256),  # about 0.2M parameters
    "small": Size(128, 4, 4, 384),  # about 0.9M
    "medium": Size(256, 6, 8, 768),  # about 5M
}
MAX_POSITIONS = 256


def build_config(arch: str, size: str, vocab_size: int, pad_id: int, eos_id: int):
    s = SIZES[size]
    if arch == "llama":
        return transformers_lib().LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=s.d_model,
            intermediate_size=s.d_ff,
            num_hidden_layers=s.n_layers,
            num_attention_heads=s.n_heads,
            num_key_value_heads=s.n_heads,
            max_position_embeddings=MAX_POSITIONS,
            tie_word_embeddings=True,
            pad_token_id=pad_id,
            eos_token_id=eos_id,
            bos_token_id=eos_id,
            attention_dropout=0.0,
        )
    if arch == "gpt2":
        return transformers_lib().GPT2Config(
            vocab_size=vocab_size,
            n_embd=s.d_model,
            n_layer=s.n_layers,
            n_head=s.n_heads,
            n_inner=int(s.d_ff * 1.5),  # GPT-2's MLP has two matrices to Llama's three
            n_positions=MAX_POSITIONS,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            pad_token_id=pad_id,
            eos_token_id=eos_id,
            bos_token_id=eos_id,
        )
    raise ValueError(f"unknown architecture {arch!r}")


def build_model(arch: str, size: str, tokenizer, seed: int):
    """A freshly initialised causal LM (initialisation fixed by ``seed``)."""
    config = build_config(arch, size, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
    torch.manual_seed(seed)
    return transformers_lib().AutoModelForCausalLM.from_config(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_pretrained(path: str | Path):
    """Model and tokenizer from a local folder (ours or any Hugging Face checkpoint)."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise UserError(f"{path}: not a model folder (no config.json)")
    tokenizer = transformers_lib().AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers_lib().AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    model.eval()
    return model, tokenizer
