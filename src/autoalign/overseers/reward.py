"""A saved PRM or ORM as a reward function ``f(prompts, completions, **kwargs) -> list[float]``.

That is the interface TRL's GRPO and RLOO trainers take, so a verifier trained here can score a
policy's samples during RL without glue code. Any registered overseer is a reward function too,
through ``base.OverseerReward``; this one takes a verifier loaded from disk (``load_verifier``). Completions may be plain strings or chat messages
(a list of ``{"role", "content"}`` dicts, as TRL passes for conversational data).
"""

from __future__ import annotations

import math

from .base import completion_text
from .training import solution_score, step_probabilities
from .verifier import StepVerifier


class VerifierReward:
    """A PRM or ORM as a reward: the probability that the solution is correct (0 to 1)."""

    def __init__(
        self, verifier: StepVerifier, tokenizer, aggregate: str = "product", batch_size: int = 256, world=None
    ):
        from ..worlds import make_world

        self.verifier, self.tokenizer = verifier, tokenizer
        self.world = world or make_world("arithmetic")  # where the steps are: the world says
        self.aggregate, self.batch_size = aggregate, batch_size
        self.__name__ = f"{verifier.kind}_reward"  # TRL logs rewards under the function's name

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        prompt_texts = [completion_text(p) for p in prompts]
        texts = [completion_text(c) for c in completions]
        probs = step_probabilities(
            self.verifier,
            self.tokenizer,
            prompt_texts,
            texts,
            [self.world.steps(t) for t in texts],
            self.batch_size,
            description="rewarding",
        )
        return [math.exp(solution_score(p, self.verifier.aggregation, self.aggregate)) for p in probs]
