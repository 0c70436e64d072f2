"""The experiments. Each protocol is a module with ``run(store, cfg) -> metrics``, read top to bottom.

Modules are imported when a run needs them, so one protocol's dependencies cost nothing to another.
"""

from __future__ import annotations

from importlib import import_module
from typing import Callable

PROTOCOLS = ("generator", "best_of_n", "debate_digits", "debate_facts", "gdc_gaps")


def get_protocol(name: str) -> Callable:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}")
    return import_module(f"{__name__}.{name}").run


__all__ = ["PROTOCOLS", "get_protocol"]
