"""Overseers: outcome and process reward models, usable as TRL reward functions."""

from .reward import VerifierReward
from .training import solution_score, step_probabilities, train_verifier
from .verifier import StepVerifier, encode_steps, load_verifier, save_verifier

__all__ = [
    "StepVerifier",
    "VerifierReward",
    "encode_steps",
    "load_verifier",
    "save_verifier",
    "solution_score",
    "step_probabilities",
    "train_verifier",
]
