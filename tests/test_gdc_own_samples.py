"""G, D and C on common items, and the measured rater, on constructed cases: each metric shows its
effect where one is built in and none where it is not."""

import random

import numpy as np
import pytest

from autoalign.measures import within_group_auroc
from autoalign.protocols.gdc_gaps import own_samples, rater
from autoalign.protocols.gdc_gaps.own_samples import own_sample_metrics, selection_accuracy
from autoalign.worlds import make_world
from autoalign.worlds.arithmetic import ArithmeticConfig

BOOT = {"n_resamples": 200, "seed": 0}


def test_selection_counts_ties_as_a_random_pick():
    sound = np.array([1.0, 0.0, 0.0, 1.0])
    assert selection_accuracy(sound, np.array([0.0, 0.0, 0.0, 0.0])) == 0.5  # all tied: G itself
    assert selection_accuracy(sound, np.array([2.0, 2.0, 0.0, 1.0])) == 0.5
    assert selection_accuracy(sound, np.array([0.0, 1.0, 0.0, 3.0])) == 1.0


def test_within_problem_auroc_ignores_telling_easy_problems_from_hard_ones():
    groups = [0, 0, 1, 1, 2, 2]
    labels = [True, False, True, False, True, True]
    assert within_group_auroc(groups, labels, [5, 1, 3, 2, 9, 9]) == {0: 1.0, 1: 1.0}  # ranks within problems
    assert within_group_auroc(groups, labels, [5, 5, 1, 1, 9, 9]) == {0: 0.5, 1: 0.5}  # only problem difficulty
    assert within_group_auroc(groups, labels, [1, 5, 1, 3, 0, 0]) == {0: 0.0, 1: 0.0}


WORLD = make_world("arithmetic", ArithmeticConfig(min_steps=1, max_steps=3, operators="+-"))


def _constructed(k=4, n=120, seed=0):
    """Problems with a latent difficulty; each sample sound with that chance."""
    world = WORLD
    problems = world.problems(seed, "test", n)
    rng = np.random.default_rng(seed)
    ease = rng.uniform(0.1, 0.9, n)
    rows = [
        {"problem": i, "sound": bool(rng.random() < ease[i]), "n_steps": problems[i].n_steps}
        for i in range(n)
        for _ in range(k)
    ]
    for r in rows:
        r["flawed_step"] = None if r["sound"] else 0
        r["text"] = problems[r["problem"]].solution
    return problems, rows, ease


def _metrics(problems, rows, d, critiques, compare=None, surprise=None):
    n = len(rows)
    said = np.array([c == "no flaw" for c in critiques], float)
    scores = {
        "discriminator": np.asarray(d, float),
        "critique": said,
        "critique_likelihood": said,
        "compare": np.zeros(n) if compare is None else np.asarray(compare, float),
        "surprise": np.zeros(n) if surprise is None else np.asarray(surprise, float),
    }
    greedy = np.zeros(len(problems))
    return own_sample_metrics(rows, scores, critiques, WORLD, problems, greedy, BOOT)


def test_a_discriminator_that_knows_soundness_picks_sound_samples_and_one_that_knows_difficulty_does_not():
    problems, rows, ease = _constructed()
    sound = np.array([r["sound"] for r in rows], float)
    silent = ["no flaw"] * len(rows)  # a critic that never flags: picks at random
    knows = _metrics(problems, rows, np.where(sound > 0, 1.0, -1.0), silent)
    assert knows["within_auroc"]["discriminator"]["mean"] == 1.0
    assert knows["selection"]["discriminator"]["mean"] == pytest.approx(knows["selection"]["oracle"]["mean"])
    assert knows["gd_selection"]["ci_low"] > 0.1 and knows["dc_selection"]["ci_low"] > 0.1
    assert knows["balanced_accuracy"]["discriminator"] == 1.0
    difficulty = np.repeat(ease, 4)  # constant within a problem: ranks problems, never samples
    blind = _metrics(problems, rows, difficulty - 0.5, silent)
    assert blind["within_auroc"]["discriminator"]["mean"] == 0.5
    assert blind["gd_selection"]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert blind["dc_selection"]["ci_low"] <= 0 <= blind["dc_selection"]["ci_high"]


def test_a_critique_that_names_every_flaw_closes_the_dc_gap():
    problems, rows, _ = _constructed(seed=1)
    sound = np.array([r["sound"] for r in rows], float)
    critiques = ["no flaw" if s else "step 1 wrong, should be 0" for s in sound]
    m = _metrics(problems, rows, np.where(sound > 0, 1.0, -1.0), critiques)
    assert m["dc_selection"]["mean"] == pytest.approx(0.0)
    assert m["balanced_accuracy"]["critique"] == 1.0
    assert m["d_on_missed_flaws"] is None  # nothing missed
    assert set(m["by_steps"]) <= {"1", "2", "3"}


def test_a_critique_that_says_exactly_the_discriminators_verdict_has_no_verdict_gap():
    """D's margin ranks inside C's ties, so D - C on picks is positive even when C says all D's verdict
    says; verdict against verdict, the gap is zero (and it shows when C says less)."""
    problems, rows, _ = _constructed(seed=2, n=300)
    sound = np.array([r["sound"] for r in rows], float)
    rng = np.random.default_rng(0)
    margin = np.where(sound > 0, 1.0, -1.0) + rng.normal(0, 1, len(rows))  # a noisy D
    same = ["no flaw" if m > 0 else "step 1 wrong, should be 0" for m in margin]
    m = _metrics(problems, rows, margin, same)
    assert m["dc_selection"]["ci_low"] > 0  # the margin's built-in edge
    assert m["dc_selection_verdicts"]["mean"] == pytest.approx(0.0, abs=1e-12)
    silent = _metrics(problems, rows, margin, ["no flaw"] * len(rows))  # C says nothing: a gap shows
    assert silent["dc_selection_verdicts"]["ci_low"] > 0


def test_a_flaw_in_the_answer_line_is_corrected_to_the_answer():
    world = make_world("arithmetic", ArithmeticConfig(min_steps=3, max_steps=3, operators="+-"))
    p = world.problems(0, "test", 1)[0]
    early = ";".join(p.step_texts[:2]) + f";#{p.steps[1][3]}"  # two right steps, then an early answer
    v = world.check(p, early)
    assert v.first_error is None and not v.correct
    assert world.correction(p, early, 2) == str(p.answer)


def _items(world, problems):
    rng = random.Random(0)
    items = []
    for i, p in enumerate(problems):
        t = world.tamper(p, "carried", rng)
        items.append({"problem": i, "text": p.solution, "flawed_step": None})
        items.append({"problem": i, "text": t.text, "flawed_step": t.flawed_step})
    return items


def _fake_rater(world, mistake: bool):
    """A rater that writes the gold step where it is asked to continue (or always a wrong one)."""

    def sample(model, tokenizer, prompts, **_):
        out = []
        for q in prompts:
            prompt, prefix = q.split("=", 1)
            problem = world.parse_prompt(prompt + "=")
            i = prefix.count(";")
            gold = problem.step_texts[i] + ";" if i < problem.n_steps else f"#{problem.answer}"
            out.append("0+0=0;" if mistake else gold)
        return out

    return sample


def test_measured_rater_finds_pointed_flaws_and_its_false_alarms_are_measured(monkeypatch):
    world = make_world("arithmetic", ArithmeticConfig(min_steps=3, max_steps=3, operators="+-"))
    problems = world.problems(0, "test", 80)
    items = _items(world, problems)
    pointing = [
        f"step {it['flawed_step'] + 1} wrong, should be 0" if it["flawed_step"] is not None else "no flaw"
        for it in items
    ]
    monkeypatch.setattr(rater, "sample_solutions", _fake_rater(world, mistake=False))
    r = rater.measured_assistance(None, None, world, problems, items, pointing, 1, 0, BOOT)
    assert r["flaws_found"]["with"]["mean"] == 1.0 and r["false_alarms"]["with"]["mean"] == 0.0
    assert 0.1 < r["flaws_found"]["without"]["mean"] < 0.9  # one random step of four (3 steps + answer)
    assert r["flaws_found"]["difference"]["ci_low"] > 0.1
    silent = ["no flaw"] * len(items)
    r0 = rater.measured_assistance(None, None, world, problems, items, silent, 1, 0, BOOT)
    assert r0["flaws_found"]["difference"]["mean"] == 0.0  # a critique that points nowhere does not help
    monkeypatch.setattr(rater, "sample_solutions", _fake_rater(world, mistake=True))
    bad = rater.measured_assistance(None, None, world, problems, items, pointing, 1, 0, BOOT)
    assert bad["false_alarms"]["without"]["mean"] == 1.0  # a rater who cannot add flags everything


def test_step_checks_give_each_step_with_what_precedes_it():
    text = "7+5=12;12-3=9;#9"
    checks = rater.step_checks(text, make_world("arithmetic").steps(text))
    assert checks == [("", "7+5=12;"), ("7+5=12;", "12-3=9;"), ("7+5=12;12-3=9;", "#9")]
    world = make_world("arithmetic")
    assert rater.same_step(world, "12-3=9;#9", "12-3=9;", False) and not rater.same_step(
        world, "12-4=8;", "12-3=9;", False
    )
    assert rater.same_step(world, "#9", "#9", True) and not rater.same_step(world, "#8", "#9", True)
    assert rater.same_step(world, "#9\n7", " #9", True)  # the answer step: its first line, up to blanks
    assert not rater.same_step(world, "12-3=9", "12-3=9;", False)  # no separator written: not the same step
    assert not rater.same_step(world, " 12-3=9;", "12-3=9;", False) and not rater.same_step(world, "", "#9", True)


def test_loss_per_example_weighs_a_one_token_target_like_a_long_one():
    import torch

    from autoalign.models import build_char_tokenizer, build_model
    from autoalign.models.encoding import encode_pairs
    from autoalign.models.train import lm_loss

    tok = build_char_tokenizer()
    model = build_model("llama", "micro", tok, seed=0)
    pairs = [("1+2=", "1+2=3;#3"), ("1+2=1+2=3;#3 D:", "sound")]
    ids, labels = encode_pairs(tok, pairs)
    with torch.no_grad():
        each = [lm_loss(model, *encode_pairs(tok, [p])).item() for p in pairs]
        assert lm_loss(model, ids, labels, "example").item() == pytest.approx(np.mean(each), rel=1e-4)
        per_token = lm_loss(model, ids, labels, "token").item()
    assert per_token != pytest.approx(np.mean(each), rel=1e-3)


def test_own_samples_module_names_every_evaluator():
    assert own_samples.EVALUATORS == ("discriminator", "critique", "critique_likelihood", "compare", "surprise")
