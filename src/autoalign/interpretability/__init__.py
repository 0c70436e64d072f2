"""Automated interpretability and robustness checks for the models and overseers autoalign trains.

Interpretability follows Bills et al. (2023), offline: activation records of MLP neurons
(``records``), an explainer that searches a grammar of the world's text features (``features``,
``explain``), a simulator that predicts activations from an explanation alone (``simulate``), the
correlation score with detection and fuzzing (``score``), all per neuron with random and shuffled
baselines (``autointerp``), and planted ground truth (``planted``). Robustness measures how often a
search finds texts an overseer accepts and the checker rejects, and how often verdict-preserving
perturbations flip it (``robustness``, ``edits``).

It sits beside ``methods`` and ``pipeline``: it reads models, worlds and overseers, and protocols may
use it; it never imports a protocol.
"""

from .autointerp import NeuronExplanation, explain_neuron, fit_and_held, score_explanation, split_random, split_record
from .edits import ATTACK_EDITS, PERTURBATIONS, attack_edit, perturb
from .explain import Explanation, explain
from .features import Feature, Grammar, build_grammar, chain_features, text_features
from .planted import (
    PlantedNeuron,
    PlantedRecovery,
    neuron_feature_correlation,
    plant_feature,
    recovery,
    synthetic_neuron,
)
from .records import ActivationSet, Excerpt, NeuronRecord, collect_activations, mlp_neuron_modules, neuron_records
from .robustness import (
    AttackResult,
    FlipResult,
    acceptance_threshold,
    any_wrong_step,
    attack,
    solution_scores,
    verdict_flip_rate,
    wrong_answer,
)
from .score import ClassifierScore, CorrelationScore, correlation_score, detection_score, fuzzing_score
from .simulate import SCALE, GrammarSimulator, Simulator

__all__ = [
    "ATTACK_EDITS",
    "ActivationSet",
    "AttackResult",
    "ClassifierScore",
    "CorrelationScore",
    "Excerpt",
    "Explanation",
    "Feature",
    "FlipResult",
    "Grammar",
    "GrammarSimulator",
    "NeuronExplanation",
    "NeuronRecord",
    "PERTURBATIONS",
    "PlantedNeuron",
    "PlantedRecovery",
    "SCALE",
    "Simulator",
    "acceptance_threshold",
    "any_wrong_step",
    "attack",
    "attack_edit",
    "build_grammar",
    "chain_features",
    "collect_activations",
    "correlation_score",
    "detection_score",
    "explain",
    "explain_neuron",
    "fit_and_held",
    "fuzzing_score",
    "mlp_neuron_modules",
    "neuron_feature_correlation",
    "neuron_records",
    "perturb",
    "plant_feature",
    "recovery",
    "score_explanation",
    "solution_scores",
    "split_random",
    "split_record",
    "synthetic_neuron",
    "text_features",
    "verdict_flip_rate",
    "wrong_answer",
]
