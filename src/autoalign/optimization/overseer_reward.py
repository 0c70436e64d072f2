"""A registered overseer fit on checker-labelled samples and read as a reward, with its acceptance
threshold calibrated on samples it was not fit on.

What the over-optimization experiment and the alignment loop both do before a policy meets an
overseer: build it from the generator's weights (its white-box backbone), fit it on labelled
samples (each a dict with the problem's prompt, the text, the checker's ``step_labels`` and
``correct``: the labels a human would give, counted by the caller), and choose the reward level at
which it "accepts" a sample so that at most ``fpr`` of the wrong calibration samples pass.
The overseer sees a sealed world and blind problems only.
"""

from __future__ import annotations

from types import SimpleNamespace

from ..overseers.base import OverseerContext, build_overseer
from .gold import BlindProblem, SealedWorld
from .rewards import LikelihoodReward, OverseerRewardFn, acceptance_threshold, majority_reward, oracle_reward

MAJORITY = "majority"
LIKELIHOOD = "likelihood"
ORACLE = "oracle"
CONTROLS = (MAJORITY, LIKELIHOOD, ORACLE)  # rewards that are not registered overseers


def fit_reward(name: str, world, backbone, rows: list[dict], seed: int, training: dict, where: str = "rewards"):
    """The reward ``name``: a control (``majority``; ``likelihood``, the backbone's own log-probability,
    the floor; ``oracle``, the unsealed checker, the ceiling) or a registered overseer fit on ``rows``."""
    sealed = SealedWorld(world)
    if name == MAJORITY:
        return majority_reward(sealed)
    if name == LIKELIHOOD:
        return LikelihoodReward(*backbone)
    if name == ORACLE:
        return oracle_reward(world)
    overseer = build_overseer(
        name,
        OverseerContext(
            world=sealed, seed=seed, backbone=backbone, description=f"training the {name} reward", **training
        ),
        where=where,
    )
    verdicts = [SimpleNamespace(step_labels=r["step_labels"], correct=r["correct"]) for r in rows]
    overseer.fit([BlindProblem(r["prompt"]) for r in rows], [r["text"] for r in rows], verdicts)
    return OverseerRewardFn(overseer)


def calibrate(reward, rows: list[dict], fpr: float) -> float | None:
    """The acceptance threshold on ``rows`` (None: no wrong sample there, so nothing is accepted)."""
    scores = reward([BlindProblem(r["prompt"]) for r in rows], [r["text"] for r in rows])
    t = acceptance_threshold(scores, [r["correct"] for r in rows], fpr)
    return t if t != float("inf") else None
