"""The experiments. Each protocol is a module with ``run(store, cfg) -> metrics``, read top to bottom."""

from . import generator

PROTOCOLS = {"generator": generator.run}

__all__ = ["PROTOCOLS"]
