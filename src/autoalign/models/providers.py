"""Model addresses ``provider/name`` and the built-in providers ``lab`` and ``hf``.

* ``lab/<size>``: one of autoalign's tiny models (micro, tiny, small, medium), trained from scratch
  by the protocol that names it; ``lab/<folder>`` opens one that a run saved.
* ``hf/<folder>``: any local Hugging Face causal LM with its tokenizer. Nothing is downloaded.
* ``openai/<model>``: a model behind an OpenAI-compatible server (``models/remote.py``).

A bare folder path is read as ``hf/<folder>``. Providers are looked up in the platform's
``providers`` registry, so a plugin can add one (``@providers.register("myprovider")`` on a function
``open(name) -> LanguageModel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..registry import providers
from .handle import LanguageModel, LocalModel
from .lm import SIZES


@dataclass(frozen=True)
class Address:
    provider: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.name}"

    @property
    def lab_size(self) -> str | None:
        """The size to train, for ``lab/<size>``; None for every other address."""
        return self.name if self.provider == "lab" and self.name in SIZES else None


def parse_address(text: str, where: str = "model") -> Address:
    """``provider/name``; a bare existing folder means ``hf/<folder>``. Unknown providers and
    malformed addresses are one-line errors naming ``where``."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: expected a model address such as lab/small, hf/<folder> or openai/<model>")
    head, sep, rest = text.partition("/")
    if sep and head in providers:
        if not rest:
            raise UserError(f"{where}: {text!r} names no model after {head}/")
        return Address(head, rest)
    if Path(text).expanduser().is_dir():
        return Address("hf", text)
    if sep and head and not Path(head).exists() and "." not in head and head != "~":
        raise UserError(f"{where}: unknown model provider {head!r} in {text!r}; known: {', '.join(providers.names())}")
    raise UserError(f"{where}: {text!r} is neither a model address (lab/, hf/, openai/) nor a model folder")


def size_or_address(spec: str, where: str) -> Address:
    """An entry of a protocol's ``sizes``: a lab size (``small``, trained from scratch) or an address."""
    return Address("lab", spec) if spec in SIZES else parse_address(spec, where)


def checkpoint_digest(spec: str, where: str) -> str:
    """A local checkpoint's content digest, so that editing it in place retrains; "" for lab sizes
    and served models."""
    address = size_or_address(spec, where)
    if address.lab_size is not None or address.provider not in ("hf", "lab"):
        return ""
    from ..runtime.context import content_digest

    folder = Path(address.name).expanduser()
    return content_digest(folder) if folder.is_dir() else ""


def open_model(address: str | Address, where: str = "model") -> LanguageModel:
    """The model at ``address``, on the run's device (local models) or behind its server."""
    addr = address if isinstance(address, Address) else parse_address(address, where)
    return providers.get(addr.provider)(addr.name)


def open_local(folder: str | Path, address: str) -> LocalModel:
    from .device import place
    from .lm import load_pretrained

    module, tokenizer = load_pretrained(folder)
    return LocalModel(place(module), tokenizer, address)


@providers.register("hf")
def open_hf(name: str) -> LanguageModel:
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise UserError(f"hf/{name}: no such folder (hf/ models load from a local folder; nothing is downloaded)")
    return open_local(folder, f"hf/{name}")


@providers.register("lab")
def open_lab(name: str) -> LanguageModel:
    if name in SIZES:
        raise UserError(f"lab/{name} is a size that a protocol trains from scratch, not a saved model; to load one, "
                        "give the folder a run saved it in (e.g. lab/runs/<run>/models/generator_arithmetic)")
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise UserError(f"lab/{name}: no such folder")
    return open_local(folder, f"lab/{name}")
