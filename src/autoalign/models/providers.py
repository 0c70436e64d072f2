"""Model addresses ``provider/name`` and the built-in providers ``lab`` and ``hf``.

* ``lab/<size>``: one of autoalign's tiny models (micro, tiny, small, medium), trained from scratch
  by the protocol that names it; ``lab/<folder>`` opens one that a run saved.
* ``hf/<folder>``: any local Hugging Face causal LM with its tokenizer. Nothing is downloaded.
* ``openai/<model>``: a model behind an OpenAI-compatible server (``models/remote.py``).

A bare folder path is read as ``hf/<folder>``. Providers are looked up in the platform's
``providers`` registry on every path (addresses, ``sizes`` entries, ``open_model``, ``autoalign
serve``), so a plugin adds one with :func:`provider` on a function ``open(name) -> LanguageModel``.
A provider that needs settings (a server, a timeout) declares them as a Pydantic model: the run
config's ``providers: {<name>: {...}}`` is validated against it at load (an unknown key fails with
its path) and every open receives them, ``open(name, settings)``. Settings say how to reach a
model, not what a run computes, so they are not part of any stage's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from ..errors import UserError
from ..registry import providers
from ..runtime.placement import provider_settings
from .handle import LanguageModel, LocalModel
from .lm import SIZES


def provider(name: str, settings: type[BaseModel] | None = None) -> Callable:
    """Register ``open(name) -> LanguageModel`` as provider ``name``; with ``settings`` (a Pydantic
    model of the provider's own config section), ``open(name, settings)`` receives the run's."""

    def decorator(fn: Callable) -> Callable:
        fn.Settings = settings
        providers.register(name, fn)
        return fn

    return decorator


def settings_model(name: str) -> type[BaseModel] | None:
    """The settings model provider ``name`` declared (None: it takes none); unknown names raise."""
    return getattr(providers.get(name), "Settings", None)


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
    raise UserError(
        f"{where}: {text!r} is neither a model address ({', '.join(p + '/' for p in providers.names())}) "
        "nor a model folder"
    )


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
    opener, model = providers.get(addr.provider), settings_model(addr.provider)
    if model is None:
        return opener(addr.name)
    return opener(addr.name, model.model_validate(provider_settings(addr.provider)))


def open_local(folder: str | Path, address: str) -> LocalModel:
    from .device import place
    from .lm import load_pretrained

    module, tokenizer = load_pretrained(folder)
    return LocalModel(place(module), tokenizer, address)


@provider("hf")
def open_hf(name: str) -> LanguageModel:
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise UserError(f"hf/{name}: no such folder (hf/ models load from a local folder; nothing is downloaded)")
    return open_local(folder, f"hf/{name}")


@provider("lab")
def open_lab(name: str) -> LanguageModel:
    if name in SIZES:
        raise UserError(
            f"lab/{name} is a size that a protocol trains from scratch, not a saved model; to load one, "
            "give the folder a run saved it in (e.g. lab/runs/<run>/models/generator_arithmetic)"
        )
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise UserError(f"lab/{name}: no such folder")
    return open_local(folder, f"lab/{name}")
