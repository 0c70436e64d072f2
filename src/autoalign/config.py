"""Typed experiment config: Pydantic models loaded from YAML and overridden with ``--set``.

The run-level keys are declared here; every other top-level key is a section owned by one of the
protocols the config names (each protocol declares its sections when it registers), so this file
keeps no list of protocols. Unknown keys, wrong types and out-of-range values fail at load time with
one line naming the file and the key's dotted path. The fully resolved config (defaults filled in)
is written into every run as ``config.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator

from .config_io import apply_overrides, one_line, read_yaml_mapping, show  # noqa: F401  (re-exported)
from .endpoints import Endpoint, check_endpoints
from .errors import UserError
from .protocol import Section


def default_threads() -> int:
    """A run's torch threads when its config names none: ``$AUTOALIGN_THREADS`` (e.g. 1 on a machine
    shared with other jobs, where two threads per job would oversubscribe the cores), else 2."""
    raw = os.environ.get("AUTOALIGN_THREADS", "").strip()
    if not raw:
        return 2
    if not raw.isdigit() or int(raw) < 1:
        raise UserError(f"AUTOALIGN_THREADS: expected a whole number of threads >= 1, got {raw!r}")
    return int(raw)


class RunConfig(Section):
    """A whole experiment: the run-level keys. Protocol sections are added per config."""

    name: str = Field("generator", min_length=1, description="Run name (folder prefix).")
    protocol: str | list[str] = Field(
        "generator", description="Which experiment to run; a list runs several, in order, in one run folder."
    )
    seed: int = Field(0, description="Fixes data, initialisation and sampling.")
    seeds: list[int] | None = Field(
        None, min_length=1, description="Run once per seed (each retraining every model), then pool."
    )
    sweep: dict[str, list[Any]] | None = Field(
        None, description="Dotted key -> values: one run per combination (times each seed)."
    )
    executor: Literal["serial", "process", "ray"] = Field(
        "serial", description="Where fanned-out runs execute: in turn, on a local process pool, or on Ray."
    )
    workers: int | None = Field(None, ge=1, description="Runs at once (default: as many as cores).")
    ray_address: str | None = Field(None, description="A Ray cluster's address (default: a local Ray).")
    threads: int = Field(
        default_factory=lambda: default_threads(),
        ge=1,
        description="torch threads in all (divided among parallel work); default: $AUTOALIGN_THREADS, else 2.",
    )
    device: str = Field(
        "auto", description="auto (a CUDA GPU if torch sees one, then MPS, else CPU), cpu, cuda, cuda:N or mps."
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights' dtype for local models.")
    autocast: Literal["off", "bf16", "auto"] = Field(
        "off",
        description=(
            "Training steps' matrix products in bf16 (torch.autocast in language-model, verifier and classifier "
            "training; weights, optimizer, sampling and scoring stay in dtype): off; bf16 (every such step); auto "
            "(a CUDA GPU with bf16; a CPU with AVX-512 BF16 or AMX for models at least 128 wide; else off). "
            "Faster where it resolves to bf16, but it trains to other weights: on the demo's generator at a fixed "
            "1,000-step schedule, 4.8 points lower accuracy over five seeds (exploratory; under the demo's early "
            "stop: inconclusive; README, Speed)."
        ),
    )
    compile: Literal["off", "on"] = Field(
        "off",
        description=(
            "Training steps' forward passes through torch.compile (inductor, dynamic shapes; the same three "
            "trainings as autocast): off; on. It compiles once per process and model (seconds to a minute on a "
            "CPU; torch's on-disk cache, /tmp/torchinductor_<user> unless $TORCHINDUCTOR_CACHE_DIR, makes later "
            "processes faster), fuses kernels, and so changes float order: a seed trains to other weights. Needs "
            "a C++ compiler on a CPU. On this project's CPU it did not pay for the demo's generator, and its effect "
            "on the generator's accuracy was inconclusive over five seeds (README, Speed)."
        ),
    )
    providers: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Model providers' own settings, by provider name, e.g. {openai: {base_url: http://127.0.0.1:8000/v1}}; "
            "each provider validates its section. How to reach a model, not what a run computes."
        ),
    )
    bootstrap_resamples: int = Field(2000, ge=100, description="Resamples for 95% CIs.")
    endpoints: list[Endpoint] = Field(
        default_factory=list,
        description=(
            "Pre-registered endpoints: numbers in metrics.json with their expected direction (see endpoints.py)."
        ),
    )

    @field_validator("autocast", "compile", mode="before")
    @classmethod
    def _yaml_off(cls, v):
        return {False: "off", True: "on"}.get(v, v) if isinstance(v, bool) else v  # YAML 1.1: bare off/on are bools

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, v, info):
        protocol = info.data.get("protocol")
        if protocol is not None:
            check_endpoints(v, list(protocol) if isinstance(protocol, list) else [protocol])
        return v

    @field_validator("providers")
    @classmethod
    def _providers(cls, v):
        return _provider_sections(v)

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        if v.split(":", 1)[0] not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
        return v

    @property
    def protocols(self) -> list[str]:
        return list(self.protocol) if isinstance(self.protocol, list) else [self.protocol]

    def digest(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _provider_sections(raw: dict) -> dict[str, BaseModel]:
    """``providers:``: each named provider's settings, validated against the model it declares, so that
    an unknown key fails with its path (``providers.openai.base_urll: unknown key``)."""
    from .registry import providers

    fields: dict[str, Any] = {}
    for name in raw:
        if name not in providers:
            raise ValueError(f"unknown model provider {name!r}; known: {', '.join(providers.names())}")
        model = getattr(providers.get(name), "Settings", None)
        if model is None:
            raise ValueError(f"provider {name!r} takes no settings")
        fields[name] = (model, ...)
    validated = create_model("ProviderSettings", __base__=Section, **fields).model_validate(raw)
    return {name: getattr(validated, name) for name in raw}


@lru_cache(maxsize=64)
def run_config_model(names: tuple[str, ...]) -> type[RunConfig]:
    """``RunConfig`` plus the sections of the named protocols (a section shared by several
    protocols, like ``generator``, must be the same model in each)."""
    from .protocol import get_protocol

    sections: dict[str, type] = {}
    for name in names:
        for key, model in get_protocol(name).sections.items():
            if key in RunConfig.model_fields:
                raise UserError(f"protocol {name!r} declares section {key!r}, a run-level key")
            if sections.get(key, model) is not model:
                raise UserError(f"protocols disagree on what section {key!r} is")
            sections[key] = model
    fields = {key: (model, Field(default_factory=model)) for key, model in sections.items()}
    return create_model("RunConfig", __base__=RunConfig, **fields)


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = show(".".join(str(p) for p in first["loc"])) or "(top level)"  # a key may hold a newline
    msg = one_line(first["msg"])
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = err.error_count() - 1
    return f"{source}: {loc}: {msg}" + (f" (and {more} more problems)" if more else "")


def _protocol_names(data: dict, source: str) -> tuple[str, ...]:
    from .registry import protocols

    raw = data.get("protocol", "generator")
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise UserError(f"{source}: protocol: expected a protocol name or a list of names")
    for n in names:
        if n not in protocols:
            protocols.names()  # loads plugins
        if n not in protocols:
            raise UserError(f"{source}: protocol: unknown protocol {n!r}; known: {', '.join(protocols.names())}")
    return tuple(names)


def config_from_dict(data: dict, source: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise UserError(f"{source}: the config must be a mapping of keys to values")
    model = run_config_model(_protocol_names(data, source))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise UserError(_format_error(source, e)) from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    data = read_yaml_mapping(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    if overrides:
        data = apply_overrides(data, overrides)
        source += " (with --set)"
    return config_from_dict(data, source)
