"""The critic as an overseer: how likely is the backbone to say "no flaw" of a solution?

The organisms' overseer backbone is trained in the critic's language (``overseers/critic.py``) to
write solutions and to critique them, naming a planted flaw half of the time (``foundations.py``),
so it is a critic; this reads it as one. A solution scores the log-probability that the backbone
writes "no flaw" when asked to critique it, on the bare problem. Registered as ``critic``; it needs
a backbone trained in that language (any other backbone gives scores, but meaningless ones).
"""

from __future__ import annotations

from ...models.scoring import completion_logprobs
from ...overseers.base import Overseer, OverseerScores
from ...overseers.critic import NO_FLAW, critique_prompt
from ...registry import overseers


@overseers.register("critic")
class Critic(Overseer):
    """log p("no flaw" | critique prompt) under the backbone; nothing to fit."""

    needs_backbone = True

    def score(self, problems, texts) -> list[OverseerScores]:
        model, tokenizer = self.ctx.backbone
        lp = completion_logprobs(
            model, tokenizer, [critique_prompt(p.prompt, t) for p, t in zip(problems, texts)], [NO_FLAW] * len(texts)
        )
        return [OverseerScores(float(x)) for x in lp]
