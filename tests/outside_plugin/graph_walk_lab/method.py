"""``hard_labels``: the strong student trained on the weak labels rounded to 0 or 1.

Burns et al. 2023 compare soft and hardened weak labels; hardening throws away the supervisor's
confidence. Written against autoalign's method contract: it sees the strong model, the transfer
texts and the weak labels, never a checker or a test label, and trains with the contract's
``train_student`` helper.
"""

from __future__ import annotations

from autoalign.methods.base import Method, MethodInputs, Predictions
from autoalign.methods.student import train_student
from autoalign.registry import methods


@methods.register("hard_labels")
class HardLabels(Method):
    def run(self, inputs: MethodInputs) -> Predictions:
        hard = [1.0 if p > 0.5 else 0.0 for p in inputs.weak_labels]
        out = train_student(inputs, hard)
        return Predictions(test=out["test"], transfer=out["transfer"], history=out["history"])
