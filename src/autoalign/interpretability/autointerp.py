"""Explain, simulate, score: one neuron's explanation and its held-out scores, with two baselines.

The method of Bills et al. (2023), offline. A neuron's top excerpts, and its random excerpts, are each
split at random into a fit half and a held-out half (never the same excerpt in both). The explainer
chooses an explanation on the fit halves; the simulator predicts activations from the explanation
alone on the held-out top and random excerpts; the correlation score pools those. Detection and
fuzzing (delphi) are scored on the same held-out excerpts.

Why the explainer also fits on random excerpts (``fit_random``, declared 2026-12-04): on top excerpts
alone, nested features cannot be told apart. Interpretability seed 5 planted "the running value so far
exceeds 50"; on its top excerpts every token above 50 is also above 25, so "exceeds 25" fitted as well
and won, and the planted explanation ranked third (held out it scored 0.876 against 0.747). Random
excerpts hold the tokens between 25 and 50 where the neuron is quiet. ``fit_random=False`` is the
method of the seeds 1-5 run (top excerpts to fit, every random excerpt held out).

What an explanation's score is compared with, per neuron, on the same held-out excerpts:

- ``random_baseline``: a grammar feature drawn at random, simulated and scored the same way;
- ``shuffled_baseline``: the same explainer run on the fit excerpts with their activations shuffled
  across tokens (so that any link to the text is gone), then scored on the true held-out activations.
  It is what the search over the grammar finds by chance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from ..seeding import rng
from .explain import explain
from .features import Grammar
from .records import Excerpt, NeuronRecord
from .score import correlation_score, detection_score, fuzzing_score
from .simulate import GrammarSimulator, Simulator

RANKING_KEPT = 10  # explanations kept per neuron, best first


@dataclass
class NeuronExplanation:
    """One neuron's explanation, its held-out scores and baselines (all JSON-ready)."""

    layer: int
    neuron: int
    explanation: str
    fit_correlation: float  # on the fit half: how the explanation was chosen, not a score
    score: float  # correlation on held-out top + random excerpts
    score_reason: str  # why the score is 0 by convention, else empty
    random_baseline: float
    shuffled_baseline: float
    detection_auroc: float
    detection_balanced_accuracy: float
    fuzzing_auroc: float
    fuzzing_balanced_accuracy: float
    ranking: list[str]  # the best explanations on the fit excerpts, best first

    def to_dict(self) -> dict:
        return asdict(self)


def _halves(record: NeuronRecord, excerpts: list[Excerpt], which: str, tag: str, seed: int, fit_share: float):
    """(fit, held-out) of ``excerpts``: a random split per neuron, at least one excerpt on each side."""
    if len(excerpts) < 2:
        raise ValueError(
            f"neuron {record.layer}/{record.neuron}: need two {which} excerpts to fit on one, score on another"
        )
    order = rng(seed, tag, record.layer, record.neuron).permutation(len(excerpts))
    n_fit = min(max(1, round(fit_share * len(excerpts))), len(excerpts) - 1)
    return [excerpts[i] for i in order[:n_fit]], [excerpts[i] for i in order[n_fit:]]


def split_record(record: NeuronRecord, seed: int, fit_share: float = 0.5) -> tuple[list[Excerpt], list[Excerpt]]:
    """(fit, held-out) top excerpts."""
    return _halves(record, record.top, "top", "fit split", seed, fit_share)


def split_random(record: NeuronRecord, seed: int, fit_share: float = 0.5) -> tuple[list[Excerpt], list[Excerpt]]:
    """(fit, held-out) random excerpts."""
    return _halves(record, record.random, "random", "random fit split", seed, fit_share)


def fit_and_held(
    record: NeuronRecord, seed: int, fit_share: float = 0.5, fit_random: bool = True
) -> tuple[list[Excerpt], list[Excerpt], list[Excerpt]]:
    """(fit excerpts, held-out top excerpts, held-out random excerpts) of ``record``."""
    fit, held = split_record(record, seed, fit_share)
    if not fit_random:
        return fit, held, list(record.random)
    fit_rand, held_rand = split_random(record, seed, fit_share)
    return fit + fit_rand, held, held_rand


def score_explanation(explanation: str, held_top: Sequence[Excerpt], random: Sequence[Excerpt], simulator: Simulator):
    """The correlation score of ``explanation`` on held-out top and random excerpts."""
    excerpts = list(held_top) + list(random)
    return correlation_score(simulator(explanation, excerpts), [e.activations for e in excerpts])


def explain_neuron(
    record: NeuronRecord,
    grammar: Grammar,
    seed: int = 0,
    simulator: Simulator | None = None,
    fit_share: float = 0.5,
    fit_random: bool = True,
) -> NeuronExplanation:
    """Explain ``record``'s neuron on a fit half of its excerpts and score it on the rest."""
    simulator = simulator or GrammarSimulator(grammar)
    fit, held, held_random = fit_and_held(record, seed, fit_share, fit_random)
    ranking = explain(fit, grammar)
    best = ranking[0].text
    score = score_explanation(best, held, held_random, simulator)
    draws = rng(seed, "baselines", record.layer, record.neuron)
    random_feature = grammar.features[int(draws.integers(len(grammar)))].description
    shuffled = explain(fit, grammar, shuffle=draws)[0].text
    sim_held, sim_random = simulator(best, held), simulator(best, held_random)
    detection = detection_score(sim_held, sim_random)
    fuzzing = fuzzing_score(held, sim_held, draws)
    return NeuronExplanation(
        layer=record.layer,
        neuron=record.neuron,
        explanation=best,
        fit_correlation=ranking[0].fit_correlation,
        score=score.value,
        score_reason=score.reason,
        random_baseline=score_explanation(random_feature, held, held_random, simulator).value,
        shuffled_baseline=score_explanation(shuffled, held, held_random, simulator).value,
        detection_auroc=detection.auroc,
        detection_balanced_accuracy=detection.balanced_accuracy,
        fuzzing_auroc=fuzzing.auroc,
        fuzzing_balanced_accuracy=fuzzing.balanced_accuracy,
        ranking=[e.text for e in ranking[:RANKING_KEPT]],
    )
