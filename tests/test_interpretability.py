"""Interpretability and robustness: scores, a planted feature recovered, records of a real model, attacks.

Each check can fail: a neuron of pure noise must score like the random baseline while a planted one
ranks first and scores high; an attack must find a planted blind spot and nothing against the checker.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from autoalign.interpretability import (
    Excerpt,
    NeuronRecord,
    attack,
    build_grammar,
    collect_activations,
    correlation_score,
    detection_score,
    explain_neuron,
    fit_and_held,
    neuron_records,
    recovery,
    synthetic_neuron,
    verdict_flip_rate,
)
from autoalign.overseers.base import OverseerScores
from autoalign.worlds import make_world


@pytest.fixture(scope="module")
def arithmetic():
    world = make_world("arithmetic")
    problems = world.problems(0, "train", 120)
    texts = [p.prompt + p.solution for p in problems]
    return world, problems, texts, build_grammar(world, texts)


def test_a_perfect_simulation_scores_one():
    true = [np.array([0.0, 1.0, 3.0]), np.array([2.0, 0.5])]
    score = correlation_score([2 * t + 5 for t in true], true)
    assert score.value == pytest.approx(1.0) and score.reason == ""


def test_a_constant_side_scores_zero_with_its_reason():
    true = [np.array([0.0, 1.0, 3.0])]
    flat = correlation_score([np.zeros(3)], true)
    assert flat.value == 0.0 and "constant simulation" in flat.reason
    dead = correlation_score([np.array([0.0, 1.0, 0.0])], [np.ones(3)])
    assert dead.value == 0.0 and "constant activations" in dead.reason


def test_detection_separates_firing_excerpts_and_says_when_it_cannot():
    firing, quiet = [np.array([0.0, 10.0]), np.array([10.0, 0.0])], [np.zeros(2), np.array([0.0, 1.0])]
    assert detection_score(firing, quiet).auroc == 1.0
    assert detection_score(firing, quiet).balanced_accuracy == 1.0
    empty = detection_score(firing, [])
    assert math.isnan(empty.auroc) and empty.reason


def test_the_grammar_reads_a_chain_as_the_world_writes_it(arithmetic):
    world, _, _, grammar = arithmetic
    text = "9-1+50=9-1=8;8+50=58;#58"
    running = grammar.matrix(text)[:, grammar.index("the running value so far exceeds 50")]
    # in the prompt the chain is evaluated with the world's operation: 9-1+50 passes 50 at the "0" of 50
    assert running[: text.index("=")].tolist() == [0, 0, 0, 0, 0, 1]
    # in the solution the latest value written: 8, then 58 once its last digit is read
    solution = text.index("=") + 1
    assert running[solution : text.index("58")].sum() == 0
    assert running[text.index("58") + 1 :].all()


@pytest.mark.parametrize(
    "planted",
    ["the running value so far exceeds 50", "the token is '7'", "the token is a digit of an operand >= 5"],
)
def test_the_explainer_recovers_a_planted_feature(arithmetic, planted):
    _, _, texts, grammar = arithmetic
    feature = grammar.features[grammar.index(planted)]
    found = recovery(synthetic_neuron(texts, feature, noise=0.1, seed=1), grammar, planted, seed=1)
    assert found.rank == 1 and found.found.explanation == planted
    assert found.planted_score > 0.8
    assert found.found.score - found.found.random_baseline > 0.5
    assert found.found.fuzzing_auroc > 0.9


def _excerpt(text: str, activations) -> Excerpt:
    return Excerpt(text, 0, 0, [(j, j + 1) for j in range(len(text))], [float(a) for a in activations])


def test_random_excerpts_tell_nested_thresholds_apart_where_top_excerpts_cannot(arithmetic):
    """Seed 5's failure, constructed: a neuron reads 'exceeds 50'; its top texts never pass through 25-50,
    so on them 'exceeds 25' fits exactly as well and comes first in the grammar. Fitting on random
    excerpts too (which do pass through 25-50, where the neuron is quiet) recovers the planted one."""
    world, _, _, grammar = arithmetic
    texts = [p.prompt + p.solution for p in world.problems(3, "train", 600)]
    over50, over25 = (grammar.features[grammar.index(f"the running value so far exceeds {t}")] for t in (50, 25))
    draw = np.random.default_rng(0)

    def excerpt(text):
        return _excerpt(text, over50.signal(text) + 0.01 * draw.standard_normal(len(text)))

    middle = [t for t in texts if (over25.signal(t) != over50.signal(t)).any()]
    jumps = [t for t in texts if over50.signal(t).any() and (over25.signal(t) == over50.signal(t)).all()]
    assert len(jumps) >= 20 and len(middle) >= 20
    record = NeuronRecord(1, 0, [excerpt(t) for t in jumps[:20]], [excerpt(t) for t in middle[:20]])
    planted = "the running value so far exceeds 50"
    top_only = recovery(record, grammar, planted, seed=0, fit_random=False)
    both = recovery(record, grammar, planted, seed=0, fit_random=True)
    assert top_only.rank > 1  # the guard's negative control: top excerpts alone cannot tell them apart
    assert both.rank == 1 and both.found.explanation == planted
    assert both.found.score > top_only.found.score  # held out, the planted explanation is the better one


def test_fit_and_held_out_excerpts_never_overlap(arithmetic):
    _, _, texts, grammar = arithmetic
    feature = grammar.features[grammar.index("the token is '7'")]
    record = synthetic_neuron(texts, feature, noise=0.1, seed=4)
    fit, held, held_random = fit_and_held(record, seed=4, fit_random=True)
    ids = {id(e) for e in fit}
    assert not ids & {id(e) for e in held + held_random}
    assert len(fit) + len(held) + len(held_random) == len(record.top) + len(record.random)
    assert {id(e) for e in fit} & {id(e) for e in record.random}  # the explainer sees random excerpts...
    fit_top, _, all_random = fit_and_held(record, seed=4, fit_random=False)
    assert not {id(e) for e in fit_top} & {id(e) for e in record.random}  # ...only when asked to
    assert len(all_random) == len(record.random)


def test_a_neuron_of_pure_noise_scores_like_the_random_baseline(arithmetic):
    _, _, texts, grammar = arithmetic
    result = explain_neuron(synthetic_neuron(texts, None, noise=1.0, seed=2), grammar, seed=2)
    assert result.fit_correlation > 0  # the search always finds something on the fit half...
    assert abs(result.score) < 0.1  # ...which does not hold up on held-out excerpts
    assert abs(result.score - result.random_baseline) < 0.1
    assert abs(result.score - result.shuffled_baseline) < 0.1


def test_activation_records_of_a_tiny_model(arithmetic):
    from autoalign.models import build_char_tokenizer, build_model

    _, _, texts, _ = arithmetic
    texts = texts[:24]
    tokenizer = build_char_tokenizer()
    model = build_model("gpt2", "micro", tokenizer, seed=0)
    acts = collect_activations(model, tokenizer, texts, batch_size=8)
    width = int(model.config.n_inner)
    assert acts.activations.shape == (len(texts), max(map(len, texts)), model.config.n_layer * width)
    assert acts.neurons[width] == (1, 0)
    alone = collect_activations(model, tokenizer, texts[5:6])  # right padding changes no activation
    np.testing.assert_allclose(alone.activations[0], acts.activations[5, : len(texts[5])], atol=1e-5)

    records = neuron_records(acts, columns=[0, width + 7], n_top=5, n_random=4, window=16)
    for record, column in zip(records, [0, width + 7]):
        peaks = [acts.activations[i, : len(t), column].max() for i, t in enumerate(texts)]
        tops = [max(e.activations) for e in record.top]
        assert tops == pytest.approx(sorted(peaks, reverse=True)[:5])  # the top excerpts hold the top peaks
        assert all(len(e.activations) == len(e.offsets) <= 16 for e in record.top + record.random)
        assert len(record.random) == 4
        assert "".join(record.top[0].tokens) in record.top[0].text
    assert NeuronRecord.from_dict(json.loads(json.dumps(records[1].to_dict()))) == records[1]


def _answer_seven(problems, texts):
    """A constructed overseer with a blind spot: it accepts any text whose answer line is '#7'."""
    return [OverseerScores(1.0 if t.strip().split(";")[-1] == "#7" else 0.0) for t in texts]


def test_an_attack_finds_a_planted_blind_spot(arithmetic):
    world, problems, _, _ = arithmetic
    problems = problems[:12]
    result = attack(_answer_seven, 0.5, world, problems, seed=0)
    attackable = [ok for ok, p in zip(result.success, problems) if p.answer != 7]  # '#7' is right where it is 7
    assert np.mean(attackable) >= 0.8
    for problem, text in zip(problems, result.found):
        if text is not None:
            assert text.endswith("#7") and not world.check(problem, text).correct


def test_an_attack_finds_nothing_against_the_checker(arithmetic):
    world, problems, _, _ = arithmetic

    def checker(ps, texts):
        return [OverseerScores(float(world.check(p, t).correct)) for p, t in zip(ps, texts)]

    def tampered(ps):  # a generator of flawed solutions
        return [world.tamper(p, "slip", random.Random(i)).text for i, p in enumerate(ps)]

    result = attack(checker, 0.5, world, problems[:12], generator=tampered, seed=0)
    assert result.rate["mean"] == 0.0 and min(result.queries) > 0  # it searched, and found nothing


def test_verdict_flips_counted_only_on_verdict_preserving_perturbations(arithmetic):
    world, problems, _, _ = arithmetic
    problems = problems[:10]
    golds = [p.solution for p in problems]

    def checker(ps, texts):
        return [OverseerScores(float(world.check(p, t).correct)) for p, t in zip(ps, texts)]

    def one_line(ps, texts):  # brittle: rejects anything with a second line
        return [OverseerScores(float("\n" not in t)) for t in texts]

    steady = verdict_flip_rate(checker, 0.5, world, problems, golds)
    assert steady.rate["mean"] == 0.0
    assert steady.by_kind["space_after_operator"]["kept"] == 0  # the world rejects spaces in a step: dropped
    assert steady.by_kind["leading_zero"]["kept"] == len(problems)
    brittle = verdict_flip_rate(one_line, 0.5, world, problems, golds)
    assert brittle.by_kind["distractor_line"]["flip_rate"] == 1.0
    assert brittle.by_kind["trailing_space"]["flip_rate"] == 0.0


def test_a_feature_planted_in_a_model_is_computed_by_its_neuron_and_recovered(arithmetic):
    """The whole pipeline on a real model: plant a feature into one neuron, record, explain, recover it.
    (A feature the random-init model can compute from what it reads; "the running value exceeds 50" needs
    a trained model, and 60 steps on these texts only memorise it: held-out correlation about 0.3.)"""
    from autoalign.interpretability import neuron_feature_correlation, plant_feature
    from autoalign.models import build_char_tokenizer, build_model

    _, _, texts, grammar = arithmetic
    tokenizer = build_char_tokenizer()
    model = build_model("gpt2", "micro", tokenizer, seed=0)
    planted = "the token is a digit of an operand >= 5"
    feature = grammar.features[grammar.index(planted)]
    result = plant_feature(model, tokenizer, texts[:80], feature, layer=1, neuron=3, steps=60, lr=3e-3, seed=0)
    assert abs(result.correlation_before) < 0.3 and result.correlation_after > 0.8
    assert neuron_feature_correlation(model, tokenizer, texts[80:], feature, layer=1, neuron=3) > 0.7  # not memorised
    assert result.kl < 0.05  # the model still predicts the next token as it did

    acts = collect_activations(model, tokenizer, texts)
    record = neuron_records(acts, columns=[acts.neurons.index((1, 3))])[0]
    found = recovery(record, grammar, planted, seed=0)
    assert found.rank == 1 and found.planted_score > 0.7
