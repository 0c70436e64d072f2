"""``walker/<error rate>``: a scripted, black-box policy for the graph-walk world.

It reads the graph from the prompt and walks it, taking a wrong edge with the given probability at
each hop (reproducibly from the sampling seed). It has no weights: roles that need a white-box model
refuse it with autoalign's one-line error, as they refuse a served model.
"""

from __future__ import annotations

import random

from autoalign.errors import UserError
from autoalign.models.handle import LanguageModel
from autoalign.registry import providers

from .world import _solution, parse_prompt


class Walker(LanguageModel):
    def __init__(self, error_rate: float):
        self.error_rate, self.address = error_rate, f"walker/{error_rate}"

    def generate(
        self,
        prompts,
        temperature=1.0,
        max_new_tokens=64,
        seed=0,
        batch_size=256,
        description="sampling",
        tokens_out=None,
    ):
        rng = random.Random(f"walker:{seed}")
        out = []
        for prompt in prompts:
            try:
                p = parse_prompt(prompt)
            except ValueError:
                out.append("")
                continue
            succ, path = p.extras["succ"], [p.extras["start"]]
            for _ in range(p.n_steps):
                nxt = succ[path[-1]]
                if temperature > 0 and rng.random() < self.error_rate:
                    nxt = rng.choice([v for v in succ if v != nxt])
                path.append(nxt)
            out.append(_solution(path))
        if tokens_out is not None:
            tokens_out[:] = [None] * len(prompts)
        return out


@providers.register("walker")
def open_walker(name: str) -> LanguageModel:
    try:
        rate = float(name)
    except ValueError:
        raise UserError(f"walker/{name}: the name is the error rate, a number in [0, 1]") from None
    if not 0 <= rate <= 1:
        raise UserError(f"walker/{name}: the error rate must be in [0, 1]")
    return Walker(rate)
