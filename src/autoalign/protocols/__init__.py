"""The experiments. Each protocol is a module with ``run(store, cfg) -> metrics``, read top to bottom."""

from . import best_of_n, generator

PROTOCOLS = {"generator": generator.run, "best_of_n": best_of_n.run}

__all__ = ["PROTOCOLS"]
