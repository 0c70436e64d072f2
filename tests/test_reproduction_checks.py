"""Each full reproduction's check (``reproduction_checks.py``) passes on a shipped run's real metrics
where the effect showed, and fails once the effect is removed from those same metrics: the slow
reproductions can fail (issue #23). Seconds; no training.

On one seed these checks are marginal: of the shipped seeds, best-of-N's holds on 12, 13 and 14 (not
11, 15) and GDC's on 17, 19 and 20 (16: a critique CI at 0.498; 18: the rater's gain), so the slow
reproductions at seed 0 check a direction that a single seed can miss; the registered five-seed runs
in the README's table are the test of the effect. The two debate checks hold on every shipped seed."""

import copy
import json
from pathlib import Path

import pytest
import reproduction_checks as check

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _shipped(run: str, seed: int, protocol: str) -> dict:
    return json.loads((RESULTS / run / f"seed-{seed}" / "metrics.json").read_text())[protocol]


def _worse(est: dict, by: float) -> None:  # an estimate moved down by `by`, CI with it
    for k in ("mean", "ci_low", "ci_high"):
        est[k] -= by


def test_prm_beats_majority_fails_when_the_prm_is_no_better_than_the_vote():
    m = _shipped("best_of_n/seeds11-15", 12, "best_of_n")
    assert check.prm_beats_majority(m)
    removed = copy.deepcopy(m)
    diff = removed["best_of_n"]["arithmetic"]["diff"]["prm_vs_majority"]
    top = max(removed["best_of_n"]["arithmetic"]["prm"], key=int)
    _worse(diff[top], diff[top]["mean"])  # PRM - majority centred on 0
    assert not check.prm_beats_majority(removed)


@pytest.mark.parametrize("broken", ["discriminator", "critique", "assistance", "size"])
def test_gdc_check_fails_without_each_part_of_its_effect(broken):
    m = _shipped("gdc_gaps/seeds16-20", 17, "gdc_gaps")
    assert check.gdc_sizes_above_chance_and_critiques_help(m)
    removed = copy.deepcopy(m)
    if broken == "assistance":
        d = removed["assistance"]["flaws_found"]["difference"]
        _worse(d, d["mean"])
    elif broken == "size":
        del removed["gdc"]["tiny"]
    else:  # one size's evaluator at chance
        e = removed["gdc"]["small"][broken]
        _worse(e, e["mean"] - 0.5)
    assert not check.gdc_sizes_above_chance_and_critiques_help(removed)


@pytest.mark.parametrize("k", ["k4", "k6"])
def test_debate_lift_check_fails_when_either_lift_is_gone(k):
    m = _shipped("debate_digits/seeds11-15", 11, "debate_digits")
    assert check.debate_lifts_the_judge(m)
    removed = copy.deepcopy(m)
    lift = removed["debate"][k]["lift"]
    _worse(lift, lift["mean"])
    assert not check.debate_lifts_the_judge(removed)


def test_facts_check_fails_without_the_lead_or_with_elo_out_of_order():
    m = _shipped("debate_facts/seeds11-15", 11, "debate_facts")
    assert check.debate_beats_consultancy_and_elo_orders(m)
    no_lead = copy.deepcopy(m)
    d = no_lead["facts"]["debate_minus_consultancy"]
    _worse(d, d["mean"])
    assert not check.debate_beats_consultancy_and_elo_orders(no_lead)
    shuffled = copy.deepcopy(m)
    shuffled["facts"]["elo"].reverse()
    assert not check.debate_beats_consultancy_and_elo_orders(shuffled)
