"""One interface over the worlds, so protocols are written once: generate, check, parse a prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import arithmetic, countdown
from .arithmetic import Verdict


@dataclass(frozen=True)
class World:
    name: str
    generate: Callable[[int, int], list]  # (seed, n) -> problems with .prompt, .solution, .answer
    check: Callable[[Any, str], Verdict]  # (problem, model text) -> step labels and correctness
    parse_prompt: Callable[[str], Any]


def make_world(name: str, config) -> World:
    """``config`` is the world's knobs (ArithmeticConfig or CountdownConfig)."""
    if name == "arithmetic":
        return World(
            "arithmetic",
            lambda seed, n: arithmetic.generate(seed, n, config),
            lambda p, text: arithmetic.check_solution(p, text, config.modulus),
            lambda prompt: arithmetic.parse_prompt(prompt, config.modulus),
        )
    if name == "countdown":
        return World(
            "countdown",
            lambda seed, n: countdown.generate(seed, n, config),
            lambda p, text: countdown.check_solution(p, text),
            countdown.parse_prompt,
        )
    raise ValueError(f"unknown world {name!r}")
