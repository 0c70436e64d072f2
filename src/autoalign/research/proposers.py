"""Proposers: who picks the next point of the search space.

* ``random``: uniform (or log-uniform) over the space, the baseline every curve is compared with;
* ``tpe``: Optuna's Tree-structured Parzen Estimator (ask and tell), which models where the good
  validation scores lie. Optuna is the ``research`` extra, imported when a TPE proposer starts;
* ``lm``: a language model that reads the task, the space and the lab notebook and replies with one
  JSON proposal (``lm_proposer.py``, which imports this module, never the other way round).

Proposers are found by name in ``autoalign.registry.proposers`` (a plugin's too: register a class
with ``propose`` and ``observe``) and built by :func:`make_proposer` from a :class:`ProposerContext`;
a class takes ``(space, seed)`` unless it defines ``from_context`` for more (the ``lm`` proposer reads
its settings, the notebook and the task there).

A proposer sees only validation scores (the loop's own split), never a test score. Each proposal
carries its rationale for the notebook. A proposal may come back ``rejected`` (with why): the loop
records it and never runs it. A proposer with a ``stopped`` reason proposes no more (the loop goes on
with the next). Method code from a language model (its proposal's ``record["code"]``) runs only
with ``research.boundary: true``, in the sandbox (``code_runs.py``); otherwise it is rejected, not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..registry import proposers
from .space import Knob, rounded


@dataclass
class Proposal:
    params: dict | None
    rationale: str
    handle: Any = field(default=None, repr=False)  # the proposer's own token (an Optuna trial)
    rejected: str | None = None  # why it must not run (None: it runs)
    record: dict = field(default_factory=dict)  # more for its notebook row (a model's raw reply, its code)


@dataclass
class ProposerContext:
    """What a proposer may be built from: the declared space, its seed, the ``research`` section,
    the notebook's rows (read live: earlier decisions), the task and its proposal budget."""

    space: dict[str, Knob]
    seed: int
    settings: Any = None
    rows: list = field(default_factory=list)
    task: dict = field(default_factory=dict)
    budget: int = 0


@proposers.register("random")
class RandomProposer:
    name = "random"

    def __init__(self, space: dict[str, Knob], seed: int):
        self.space, self.rng = space, np.random.default_rng(seed)

    def propose(self) -> Proposal:
        params = rounded({k: knob.sample(self.rng) for k, knob in self.space.items()})
        return Proposal(params, "a uniform draw from the declared space (the baseline search)")

    def observe(self, proposal: Proposal, score: float | None) -> None:
        pass


@proposers.register("tpe")
class TPEProposer:
    name = "tpe"

    def __init__(self, space: dict[str, Knob], seed: int, startup: int = 4):
        try:
            import optuna
        except ImportError:
            raise UserError("the tpe proposer needs Optuna: pip install 'autoalign[research]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
        )
        self.startup = startup

    def propose(self) -> Proposal:
        trial = self.study.ask()
        params = {}
        for k, knob in self.space.items():
            if knob.choices is not None:
                params[k] = trial.suggest_categorical(k, knob.choices)
            else:
                params[k] = trial.suggest_float(k, knob.low, knob.high, log=knob.log)
        n = len(self.study.trials)
        why = (
            f"TPE start-up draw {n} of {self.startup} (random until TPE has scores to model)"
            if n <= self.startup
            else f"TPE: most likely better than the best of {n - 1} scored so far, given their validation PGRs"
        )
        return Proposal(rounded(params), why, trial)

    def observe(self, proposal: Proposal, score: float | None) -> None:
        import optuna

        if score is None:
            self.study.tell(proposal.handle, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(proposal.handle, score)


def make_proposer(name: str, ctx: ProposerContext):
    """The registered proposer ``name`` built for ``ctx``; one line naming the known ones otherwise."""
    try:
        cls = proposers.get(name)
    except UserError:
        raise UserError(
            f"research.proposers: unknown proposer {name!r} (known: {', '.join(proposers.names())})"
        ) from None
    build = getattr(cls, "from_context", None)
    return build(ctx) if build is not None else cls(ctx.space, ctx.seed)
