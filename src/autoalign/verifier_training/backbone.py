"""The model a verifier is fine-tuned from: a fresh lab model or the user's local checkpoint.

* ``lab/<size>``: a character tokenizer built from the characters the data actually holds (so no
  character of the user's formatting becomes ``<unk>``), and a fresh Llama of that size. It knows
  nothing yet, so ``run.py`` first trains it as a language model on the correct solutions: a PRM's
  log-likelihood head reads wrong steps off a backbone that knows what a right step looks like.
* ``hf/<folder>`` (or ``lab/<folder>``, a saved model): fine-tuned as it is, with its own tokenizer.
  Characters that tokenizer cannot represent are counted and reported, never silently dropped.
* anything black-box (``openai/``) stops with the one-line white-box error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import UserError
from ..records import LabelledSolution


@dataclass
class Backbone:
    lm: object
    tokenizer: object
    address: str
    fresh: bool  # a lab model built here (it needs language-model pretraining)
    notes: list[str] = field(default_factory=list)


def data_characters(examples: list[LabelledSolution], separator: str) -> Counter:
    """How often every character occurs in the prompts, the solutions and the separator."""
    counts: Counter = Counter(separator)
    for e in examples:
        counts.update(e.prompt)
        counts.update(e.text)
    return counts


def unknown_characters(tokenizer, chars: Counter) -> Counter:
    """The characters that ``tokenizer`` maps to its unknown token, with their counts."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return Counter()
    from ..models.encoding import encode_texts

    alphabet = sorted(chars)
    return Counter({c: chars[c] for c, ids in zip(alphabet, encode_texts(tokenizer, alphabet)) if unk in ids})


def describe_unknown(address: str, unknown: Counter) -> str:
    shown = ", ".join(repr(c) for c, _ in unknown.most_common(5))
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    return (
        f"{address}: its tokenizer maps {sum(unknown.values())} characters of the data to <unk> "
        f"({len(unknown)} distinct: {shown}{more}); the verifier cannot tell them apart"
    )


def open_backbone(address: str, examples: list[LabelledSolution], separator: str, seed: int, role: str) -> Backbone:
    """The backbone for ``role`` (e.g. ``"train prm"``) at ``address``, on the run's device."""
    from ..models import build_char_tokenizer, build_model
    from ..models.device import place
    from ..models.handle import LanguageModel
    from ..models.providers import open_model, parse_address

    addr = parse_address(address, "--model")
    chars = data_characters(examples, separator)
    if addr.lab_size is not None:
        tokenizer = build_char_tokenizer("".join(sorted(chars)))
        lm = place(build_model("llama", addr.lab_size, tokenizer, seed=seed))
        return Backbone(lm, tokenizer, str(addr), fresh=True)
    try:
        model = open_model(addr, "--model")
    except UserError:
        if addr.provider in ("lab", "hf"):
            raise
        probe = LanguageModel()  # a remote model that cannot even be opened is still black-box
        probe.address = str(addr)
        probe.white_box(role)
        raise
    local = model.white_box(role)
    backbone = Backbone(local.module, local.tokenizer, str(addr), fresh=False)
    unknown = unknown_characters(local.tokenizer, chars)
    if unknown:
        backbone.notes.append(describe_unknown(str(addr), unknown))
    return backbone
