"""The best-of-N controls of issue #11 on constructed cases: within-problem AUROC, the labels x
aggregation 2x2, each cell's step targets, and the last-token ORM with a fine-tuned or frozen backbone.
Each measure is shown able to find its effect and able to find none."""

import random

import numpy as np
import pytest
import torch
from conftest import TEST_THREADS

from autoalign.measures import auroc_ci
from autoalign.models import build_char_tokenizer, build_model
from autoalign.overseers import (
    StepVerifier,
    load_verifier,
    save_verifier,
    solution_score,
    train_verifier,
)
from autoalign.overseers.training import step_logit_values, step_targets, targets
from autoalign.protocols.best_of_n.ablation import (
    CELLS,
    VERIFIERS,
    ablation_effects,
    enabled_verifiers,
    within_problem_auroc,
)
from autoalign.protocols.best_of_n.report import ablation_table
from autoalign.records import LabelledSolution
from autoalign.worlds import ArithmeticConfig, example_from_solution, generate
from autoalign.worlds.tampering import tamper_result


def _pools(within_signal: bool, problems: int = 60, m: int = 20, seed: int = 0):
    """Problems of graded difficulty; scores say how easy the problem is and, optionally, which of
    its samples are correct."""
    rng = np.random.default_rng(seed)
    ids, correct, scores = [], [], []
    for k in range(problems):
        easy = (k + 0.5) / problems  # share of correct samples
        c = rng.random(m) < easy
        c[0], c[1] = True, False  # every problem mixed
        s = 10.0 * easy + (c.astype(float) if within_signal else rng.random(m) * 0.01)
        ids += [k] * m
        correct += c.tolist()
        scores += s.tolist()
    return ids, correct, np.array(scores)


def test_within_problem_auroc_ignores_problem_difficulty():
    ids, correct, scores = _pools(within_signal=False)
    pooled = auroc_ci(ids, correct, scores.tolist(), n_resamples=200)
    within = within_problem_auroc(ids, correct, scores, n_resamples=500)
    assert pooled["mean"] > 0.75  # difficulty alone makes the pooled AUROC look good
    assert abs(within["mean"] - 0.5) < 0.08 and within["ci_low"] < 0.5 < within["ci_high"]
    assert within["n"] == 60 and len(within["_units"]) == 60  # per-problem values: pools over seeds


def test_within_problem_auroc_is_one_when_scores_rank_inside_problems():
    ids, correct, scores = _pools(within_signal=True)
    within = within_problem_auroc(ids, correct, scores, n_resamples=200)
    assert within["mean"] == 1.0 and within["ci_low"] == 1.0
    # reversed within problems: 0; ties count one half; -inf counts lowest
    assert within_problem_auroc(ids, correct, scores - 2 * np.array(correct))["mean"] == 0.0
    assert within_problem_auroc([0, 0], [True, False], [1.0, 1.0])["mean"] == 0.5
    assert within_problem_auroc([0, 0, 0], [True, False, False], [0.0, -np.inf, -np.inf])["mean"] == 1.0


def test_within_problem_auroc_skips_unmixed_problems():
    got = within_problem_auroc([0, 0, 1, 1], [True, True, True, False], [0.1, 0.2, 0.9, 0.1], n_resamples=50)
    assert got["n"] == 1 and got["mean"] == 1.0
    none = within_problem_auroc([0, 0], [True, True], [0.1, 0.2])
    assert none["n"] == 0 and np.isnan(none["mean"])


def _curves(pp, pc, op, oc, n=64, problems=150, noise=0.15, seed=0):
    """Per-problem best-of-N accuracies of the four cells: a difficulty shared by all cells (which
    the paired effects cancel) plus each cell's own noise."""
    rng = np.random.default_rng(seed)
    base = 0.25 + rng.random(problems) * 0.3

    def cell(mean):
        return {n: np.clip(base + mean + rng.normal(0, noise, problems), 0, 1)}

    return {"prm": cell(pp), "prm_cumulative": cell(pc), "orm_per_step": cell(op), "orm": cell(oc)}


def test_ablation_recovers_a_label_effect_and_finds_none_in_aggregation():
    curves = _curves(pp=0.15, pc=0.15, op=0.0, oc=0.0)
    a = ablation_effects(curves, [64], n_resamples=1000)
    labels, agg, inter = a["labels"]["64"], a["aggregation"]["64"], a["interaction"]["64"]
    assert labels["ci_low"] > 0.05 and labels["mean"] == pytest.approx(0.15, abs=0.05)
    assert agg["ci_low"] < 0 < agg["ci_high"] and inter["ci_low"] < 0 < inter["ci_high"]
    assert len(labels["_units"]) == 150  # paired per problem, pools over seeds
    assert a["process_per_step"]["64"]["mean"] == pytest.approx(curves["prm"][64].mean())


def test_ablation_recovers_an_aggregation_effect_and_its_interaction():
    # only the per-step head with process labels helps: both main effects are half of it
    a = ablation_effects(_curves(pp=0.2, pc=0.0, op=0.0, oc=0.0, seed=1), [64], n_resamples=1000)
    assert a["aggregation"]["64"]["ci_low"] > 0 and a["labels"]["64"]["ci_low"] > 0
    assert a["interaction"]["64"]["mean"] == pytest.approx(0.2, abs=0.08) and a["interaction"]["64"]["ci_low"] > 0


def test_ablation_shows_nothing_where_there_is_nothing():
    a = ablation_effects(_curves(0.0, 0.0, 0.0, 0.0, seed=2), [64], n_resamples=1000)
    for k in ("labels", "aggregation", "interaction"):
        assert a[k]["64"]["ci_low"] < 0 < a[k]["64"]["ci_high"], k
    # the effects are exact differences of the cells
    same = {m: {64: np.full(10, 0.5)} for m in CELLS.values()}
    same["prm"] = {64: np.full(10, 0.7)}
    b = ablation_effects(same, [64], n_resamples=100)
    assert b["labels"]["64"]["mean"] == pytest.approx(0.1) and b["aggregation"]["64"]["mean"] == pytest.approx(0.1)
    assert b["interaction"]["64"]["mean"] == pytest.approx(0.2)
    assert ablation_effects({"prm": same["prm"], "orm": same["orm"]}, [64]) == {}  # no ablation run


def test_the_report_shows_the_2x2_with_floor_and_ceiling():
    curves = _curves(0.1, 0.0, 0.0, 0.0)
    ab = ablation_effects(curves, [64], n_resamples=100)
    est = {"mean": 0.3, "ci_low": 0.2, "ci_high": 0.4, "n": 5}
    html = ablation_table({"ablation": ab, "loglik": {"64": est}, "pass_at_n": {"64": est}}, "64")
    assert "cumulative head" in html and "(floor)" in html and "(ceiling)" in html and "interaction" in html
    assert ablation_table({}, "64") == ""


# a solution whose second step is wrong but whose answer is right (a lucky slip): labels differ by cell
LUCKY = [True, False, True, True]


@pytest.mark.parametrize(
    "kind, aggregation, labels, mask",
    [
        ("prm", "per_step", [1, 0, 1, 1], [1, 1, 0, 0]),  # own labels, up to the first mistake
        ("prm", "cumulative", [1, 0, 0, 0], [1, 1, 1, 1]),  # steps 1..i all correct
        ("orm", "per_step", [1, 1, 1, 1], [1, 1, 1, 1]),  # the final answer at every step
        ("orm", "cumulative", [1, 1, 1, 1], [1, 1, 1, 1]),
        ("orm", "last_token", [1, 1, 1, 1], [0, 0, 0, 1]),  # one label per solution
        ("prm", "last_token", [1, 0, 0, 0], [0, 0, 0, 1]),
    ],
)
def test_each_cell_gets_its_own_step_targets(kind, aggregation, labels, mask):
    assert step_targets(LUCKY, kind, aggregation) == ([float(x) for x in labels], [float(x) for x in mask])


def test_default_targets_are_the_prm_and_orm_of_before():
    e = LabelledSolution("p", "t", ((0, 1),) * 4, tuple(LUCKY))
    short = LabelledSolution("p", "t", ((0, 1),) * 2, (True, False))
    lab, mask = targets([e, short], "prm", 5)
    assert lab.tolist() == [[1, 0, 1, 1, 0], [1, 0, 0, 0, 0]] and mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]
    lab, mask = targets([e, short], "orm", 5)
    assert lab.tolist() == [[1, 1, 1, 1, 0], [0, 0, 0, 0, 0]] and mask.tolist() == [[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]]


def test_solution_scores_follow_the_aggregation():
    p = [0.9, 0.5, 0.8]
    assert solution_score(p, "per_step") == pytest.approx(np.log(0.9 * 0.5 * 0.8)) == solution_score(p, "prm")
    assert solution_score(p, "per_step", "min") == pytest.approx(np.log(0.5))
    for agg in ("cumulative", "last_token", "orm"):
        assert solution_score(p, agg) == pytest.approx(np.log(0.8))


def test_the_shipped_verifier_table():
    names = [s.name for s in enabled_verifiers(weak_baseline=False, ablation=False)]
    assert names == ["prm", "orm"]
    assert len(enabled_verifiers(True, True)) == len(VERIFIERS) == 8
    frozen = [s for s in VERIFIERS if s.frozen]
    assert [s.name for s in frozen] == ["orm_frozen"] and frozen[0].head == "linear"
    cells = {(s.kind, s.aggregation): s.name for s in VERIFIERS if s.head == "loglik"}
    assert cells == {
        ("prm", "per_step"): "prm",
        ("orm", "cumulative"): "orm",
        ("prm", "cumulative"): "prm_cumulative",
        ("orm", "per_step"): "orm_per_step",
    }


# -- the verifiers themselves, on an untrained micro model (seconds) -----------------------------

WORLD = ArithmeticConfig(min_steps=1, max_steps=2)


@pytest.fixture(scope="module")
def micro():
    torch.set_num_threads(TEST_THREADS)
    tok = build_char_tokenizer()
    rng = random.Random(0)
    examples = []
    for p in generate(3, 16, WORLD):
        examples.append(example_from_solution(p, p.solution).labelled())
        examples.append(example_from_solution(p, tamper_result(p, rng).text).labelled())
    return tok, examples


def _lm(tok, seed=0):
    return build_model("llama", "tiny", tok, seed)


def test_the_head_reads_by_aggregation_not_by_label_type(micro):
    tok, examples = micro
    lm = _lm(tok)
    args = ([e.prompt for e in examples[:4]], [e.text for e in examples[:4]], [list(e.spans) for e in examples[:4]])
    got = {
        (k, a): step_logit_values(StepVerifier(lm, k, "loglik", a), tok, *args)
        for k in ("prm", "orm")
        for a in ("per_step", "cumulative")
    }
    assert got["prm", "per_step"] == got["orm", "per_step"] and got["prm", "cumulative"] == got["orm", "cumulative"]
    assert got["prm", "per_step"] != got["prm", "cumulative"]
    # before training the cumulative head's last logit is the sum of the per-step ones (the likelihood)
    for per, cum in zip(got["prm", "per_step"], got["prm", "cumulative"]):
        assert cum[-1] == pytest.approx(sum(per), rel=1e-4)
    with pytest.raises(ValueError, match="cannot change the ranking"):
        StepVerifier(lm, "orm", "loglik", frozen=True)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("frozen", [True, False])
def test_the_last_token_head_trains_and_a_frozen_backbone_stays(micro, frozen):
    tok, examples = micro
    v = StepVerifier(_lm(tok), "orm", "linear", "last_token", frozen=frozen)
    body, head = _snapshot(v.lm), _snapshot(v.linear)
    train_verifier(v, tok, examples, steps=2, batch_size=8, lr=1e-3, head_lr=1e-2)
    body_same = all(torch.equal(body[k], t) for k, t in v.lm.state_dict().items())
    assert body_same == frozen
    assert not all(torch.equal(head[k], t) for k, t in v.linear.state_dict().items())
    v.train()
    assert v.lm.training != frozen  # a frozen backbone stays in eval mode (no dropout either)


def test_every_verifier_kind_trains_scores_and_reloads(micro, tmp_path):
    tok, examples = micro
    for spec in VERIFIERS:
        v = StepVerifier(_lm(tok), spec.kind, spec.head, spec.aggregation, spec.frozen)
        history = train_verifier(v, tok, examples, steps=10, batch_size=8, lr=1e-3, head_lr=1e-2)
        assert len(history) == 1 and np.isfinite(history[0]), spec.name
        args = ([e.prompt for e in examples[:3]], [e.text for e in examples[:3]], [list(e.spans) for e in examples[:3]])
        logits = step_logit_values(v, tok, *args)
        assert all(len(x) == len(e.spans) and np.all(np.isfinite(x)) for x, e in zip(logits, examples)), spec.name
        if spec.name == "orm_frozen":
            save_verifier(v, tok, tmp_path / spec.name)
            loaded, _ = load_verifier(tmp_path / spec.name)
            assert (loaded.kind, loaded.aggregation, loaded.frozen) == ("orm", "last_token", True)
            again = step_logit_values(loaded, tok, *args)
            assert np.concatenate(again) == pytest.approx(np.concatenate(logits), abs=1e-5)


def test_an_empty_sample_gets_no_likelihood_and_ranks_last():
    """A generator can stop at once; its empty solution has no step end to read a likelihood at."""
    from autoalign.overseers import StepVerifier
    from autoalign.protocols.best_of_n import whole_solution_loglik
    from autoalign.protocols.best_of_n.scoring import score_pairs
    from autoalign.worlds import make_world

    tok = build_char_tokenizer()
    lm = build_model("llama", "micro", tok, seed=0)
    world = make_world("arithmetic", ArithmeticConfig())
    p = world.problems(0, "test", 1)[0]
    logits = score_pairs(
        StepVerifier(lm, "orm", "loglik", "cumulative"),
        tok,
        world,
        [(p.prompt, ""), (p.prompt, p.solution)],
        probabilities=False,
    )
    scores = whole_solution_loglik(logits)
    assert scores[0] is None and isinstance(scores[1], float)


def test_a_loaded_verifier_goes_to_the_runs_device(tmp_path):
    """A run on a GPU scores with its verifiers there: load_verifier places the model as every other
    loader does. The meta device stands in for a GPU (no arithmetic, only placement)."""
    from autoalign.runtime.placement import placement, set_placement

    tok = build_char_tokenizer()
    save_verifier(StepVerifier(_lm(tok), "prm", "linear"), tok, tmp_path / "v")
    before = placement()
    try:
        set_placement("meta")
        loaded, _ = load_verifier(tmp_path / "v")
    finally:
        set_placement(*before)
    assert {p.device.type for p in loaded.parameters()} == {"meta"}
    assert not loaded.training
