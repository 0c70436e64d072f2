"""What a protocol is to the platform: a run function plus everything that shows its results.

A protocol module registers itself with :func:`protocol` and owns, in one place, its config
sections, its run function, its typed results, its CLI summary lines, its headline for
``autoalign list`` and its report section. ``config.py``, ``cli.py`` and the report page hold no
per-protocol lists: they ask the registry. Protocols never import each other; what several need
(training a generator, sampling and checking) lives in ``autoalign.pipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from .registry import protocols


class Section(BaseModel):
    """Base of every config section: unknown keys fail at load time with the key's path."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


@dataclass
class Protocol:
    name: str
    run: Callable[[Any, Any], dict]  # (RunContext, RunConfig) -> results (JSON, Estimates inside)
    sections: dict[str, type[BaseModel]]  # config sections it reads, by top-level key
    results: type[BaseModel] | None = None  # validated before the results are written
    summary: Callable[[dict], list[str]] = field(default=lambda results: [])
    headline: Callable[[dict], str] = field(default=lambda results: "-")
    report: Callable[[Any, dict, dict], str] | None = None  # (store, results, stages) -> HTML


def protocol(
    name: str,
    sections: dict[str, type[BaseModel]],
    results: type[BaseModel] | None = None,
    summary: Callable | None = None,
    headline: Callable | None = None,
    report: Callable | None = None,
) -> Callable:
    """Decorator for a protocol's ``run(ctx, cfg)``: registers it under ``name``."""

    def decorator(run: Callable) -> Callable:
        spec = Protocol(name, run, dict(sections), results)
        if summary is not None:
            spec.summary = summary
        if headline is not None:
            spec.headline = headline
        spec.report = report
        protocols.register(name, spec)
        return run

    return decorator


def get_protocol(name: str) -> Protocol:
    return protocols.get(name)
