"""A character-level tokenizer built with Hugging Face ``tokenizers`` and saved as ``tokenizer.json``.

Character tokens keep every digit its own token, so arithmetic is learnable by a tiny model and
each reasoning step maps onto a known span of tokens. It is a BPE model with no merges, wrapped
in ``PreTrainedTokenizerFast``, so ``AutoTokenizer.from_pretrained`` loads it like any other.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, decoders, models

from .lm import transformers_lib

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
# Digits and arithmetic first; letters and punctuation leave room for later worlds (critiques, facts).
ALPHABET = "0123456789+-*/=;#\n" + " ,.:?()[]<>!'_" + string.ascii_lowercase + string.ascii_uppercase


def build_char_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    specials = [PAD, EOS, UNK]
    chars = list(dict.fromkeys(alphabet))
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.add_special_tokens(specials)
    core.decoder = decoders.Fuse()
    return transformers_lib().PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK, padding_side="left"
    )
