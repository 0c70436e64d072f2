"""The gold reward stays out of the optimizer's reach: sealed views of the world and its problems.

The world's checker is the gold reward (it plays the human who knows the answer), and a problem
record carries its gold solution and answer. A reward handed to an optimizer therefore gets only:

* a :class:`SealedWorld`: the parts of the World contract that read a text's form (``steps``,
  ``step_texts``, its name and config) pass through; ``check``, ``gold_step``, ``tamper``,
  ``correction``, ``parse_prompt`` (it rebuilds a problem, gold solution included) and everything
  else raise :class:`GoldLeak`;
* :class:`BlindProblem` s: the prompt; asking for the answer or the gold solution raises.

An allow-list, not a block-list: a World method added later is sealed until someone decides it
reveals nothing. The protocol measures gold accuracy itself, outside the optimizer, on held-out test
problems only. This guards against mistakes and in-process shortcuts (a reward built on the
checker), not against code that computes the answer itself: an arithmetic prompt states its whole
problem, so a reward that evaluates the chain needs no checker. Such a reward is an oracle, and the
``oracle`` reward is exactly that, named as the ceiling; untrusted code runs behind the research
loop's sandboxed evaluation boundary, not here.
"""

from __future__ import annotations

from typing import Any

READABLE = frozenset({"name", "config", "steps", "step_texts", "identity", "split_of", "capabilities"})


class GoldLeak(RuntimeError):
    """A reward or optimizer reached for the gold reward (the checker, a gold solution or answer)."""


class SealedWorld:
    """``world`` with everything that knows the right answer sealed."""

    def __init__(self, world: Any):
        object.__setattr__(self, "_world", world)

    def __getattr__(self, name: str):
        if name in READABLE:
            return getattr(self._world, name)
        raise GoldLeak(
            f"world.{name} is sealed during policy optimization: the {getattr(self._world, 'name', '')} checker "
            "and gold solutions are the gold reward, measured only on held-out problems after each checkpoint"
        )

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("a sealed world is read-only")


class BlindProblem:
    """A problem as a reward sees it: its prompt, and nothing that knows the answer."""

    __slots__ = ("prompt",)

    def __init__(self, prompt: str):
        self.prompt = prompt

    def __getattr__(self, name: str):
        raise GoldLeak(f"problem.{name} is sealed during policy optimization: a reward sees the prompt only")

    def __repr__(self) -> str:
        return f"BlindProblem({self.prompt!r})"


def blind(problems) -> list[BlindProblem]:
    return [BlindProblem(p.prompt) for p in problems]
