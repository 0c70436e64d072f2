"""Full reproductions (``make test-slow``): each shipped config, end to end, and the direction of its
headline result. Minutes each; never part of ``make test``. What each asserts lives in
``reproduction_checks.py``, where ``test_reproduction_checks.py`` shows each check failing on a
constructed run without the effect."""

import pytest
import reproduction_checks as check

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run

pytestmark = pytest.mark.slow


def _run(tmp_path, config):
    cfg = load_config(config, [])
    store, _ = open_run(cfg, tmp_path / "run")
    return next(iter(execute(store, cfg).values()))


def test_best_of_n_prm_beats_majority(tmp_path):
    assert check.prm_beats_majority(_run(tmp_path, "configs/best_of_n.yaml"))


def test_gdc_gaps_have_every_size(tmp_path):
    assert check.gdc_sizes_above_chance_and_critiques_help(_run(tmp_path, "configs/gdc_gaps.yaml"))


def test_pixel_debate_lifts_the_judge_at_4_and_6_pixels(tmp_path):
    assert check.debate_lifts_the_judge(_run(tmp_path, "configs/debate_digits.yaml"))


def test_facts_debate_beats_consultancy(tmp_path):
    assert check.debate_beats_consultancy_and_elo_orders(_run(tmp_path, "configs/debate_facts.yaml"))
