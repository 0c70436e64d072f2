"""Where this process's models run and how they reach their providers: device, dtype, autocast, compile, provider settings.

A run sets them once (``RunContext.use_models``), and again in every worker process a stage runs in;
``models/`` reads them whenever it builds, loads or opens a model. They live in the kernel so that
the run context can set them without importing ``models/``, which sits above the kernel.
"""

from __future__ import annotations

from typing import Any

_state: dict[str, Any] = {"device": "cpu", "dtype": "float32", "autocast": "off", "compile": "off", "providers": {}}


def set_placement(device: str, dtype: str = "float32", autocast: str = "off", compile: str = "off") -> None:
    """The device and dtype that models built or loaded from now on (in this process) go to, the resolved
    autocast policy their training steps use (``models.device.resolve_autocast``) and whether those steps'
    forward passes are compiled (``off`` or ``on``)."""
    _state["device"], _state["dtype"], _state["autocast"], _state["compile"] = device, dtype, autocast, compile


def placement() -> tuple[str, str]:
    return _state["device"], _state["dtype"]


def autocast_policy() -> str:
    """This process's resolved training autocast: ``off``, ``bf16`` or ``bf16-wide``."""
    return _state["autocast"]


def compile_policy() -> str:
    """Whether this process's training steps run their model's forward through ``torch.compile``: ``off`` or ``on``."""
    return _state["compile"]


def set_provider_settings(settings: dict[str, dict]) -> None:
    """Each provider's settings for this run (``providers:`` in the config, validated at load)."""
    _state["providers"] = {name: dict(values) for name, values in settings.items()}


def provider_settings(name: str) -> dict:
    """The run's settings for provider ``name`` as plain values ({} when the config gives none)."""
    return dict(_state["providers"].get(name, {}))
