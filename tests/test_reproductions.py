"""Full reproductions (``make test-slow``): each shipped config, end to end, and the direction of its
headline result. Minutes each; never part of ``make test``."""

import pytest

from autoalign.config import load_config
from autoalign.orchestration import execute, open_run

pytestmark = pytest.mark.slow


def _run(tmp_path, config):
    cfg = load_config(config, [])
    store, _ = open_run(cfg, tmp_path / "run")
    return next(iter(execute(store, cfg).values()))


def test_best_of_n_prm_beats_majority(tmp_path):
    m = _run(tmp_path, "configs/best_of_n.yaml")
    top = max(m["best_of_n"]["arithmetic"]["prm"], key=int)
    assert m["best_of_n"]["arithmetic"]["diff"]["prm_vs_majority"][top]["ci_low"] > 0


def test_gdc_gaps_have_every_size(tmp_path):
    m = _run(tmp_path, "configs/gdc_gaps.yaml")
    assert set(m["gdc"]) == {"micro", "tiny", "small"}
    for g in m["gdc"].values():
        assert g["discriminator"]["ci_low"] > 0.5 and g["critique"]["ci_low"] > 0.5
    f = m["assistance"]["flaws_found"]
    assert f["difference"]["ci_low"] > 0


def test_pixel_debate_lifts_the_judge_at_4_and_6_pixels(tmp_path):
    m = _run(tmp_path, "configs/debate_digits.yaml")
    for k in ("k4", "k6"):
        assert m["debate"][k]["lift"]["ci_low"] > 0.15


def test_facts_debate_beats_consultancy(tmp_path):
    m = _run(tmp_path, "configs/debate_facts.yaml")
    assert m["facts"]["debate_minus_consultancy"]["ci_low"] > 0
    elo = [r["elo"]["mean"] for r in m["facts"]["elo"]]
    assert elo == sorted(elo)
