"""Task generators with machine-checkable ground truth behind one interface (``base.World``).

Worlds register by name (``autoalign.registry.worlds``); ``make_world(name, config)`` builds one.
"""

from ..records import Verdict
from .arithmetic import ArithmeticConfig, Problem, check_solution, generate, parse_prompt
from .base import SPLITS, Tampered, World
from .stepwise import (
    StepwiseExample,
    example_from_solution,
    read_stepwise_jsonl,
    write_stepwise_jsonl,
)


def make_world(name: str, config=None) -> World:
    """The registered world ``name`` with its knobs (``None``: the world's defaults)."""
    from ..registry import worlds

    return worlds.get(name)(config)


__all__ = [
    "ArithmeticConfig",
    "Problem",
    "SPLITS",
    "StepwiseExample",
    "Tampered",
    "Verdict",
    "World",
    "check_solution",
    "example_from_solution",
    "generate",
    "make_world",
    "parse_prompt",
    "read_stepwise_jsonl",
    "write_stepwise_jsonl",
]
