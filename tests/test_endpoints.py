"""Pre-registered endpoints: Holm, the bootstrap p, the held rule, and the endpoints block."""

import numpy as np
import pytest

from autoalign.config import config_from_dict
from autoalign.endpoints import Endpoint, bootstrap_p, evaluate_endpoints, holm, judge
from autoalign.errors import UserError
from autoalign.orchestration.fanout import pool_metrics
from autoalign.report.endpoints import endpoints_section


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> 0.06 (kept monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.01]) == pytest.approx([0.01]) and holm([]) == []


def test_bootstrap_p_is_small_beyond_the_threshold_and_large_otherwise():
    rng = np.random.default_rng(0)
    beyond = rng.normal(0.1, 0.02, 2000)  # a clear positive effect
    null = rng.normal(0.0, 0.02, 2000)
    assert bootstrap_p(beyond, 0.0, "greater") < 0.001
    assert 0.4 < bootstrap_p(null, 0.0, "greater") < 0.6
    assert bootstrap_p(beyond, 0.0, "less") > 0.999
    assert bootstrap_p(np.full(99, 5.0), 0.0, "greater") == pytest.approx(1 / 100)  # never exactly 0


def test_judge_needs_the_direction_the_ci_and_p():
    assert judge(0.1, 0.05, 0.15, 0.001, 0.0, "greater")["held"]
    assert not judge(0.1, -0.01, 0.2, 0.04, 0.0, "greater")["held"]  # the CI touches the threshold
    assert not judge(0.1, 0.05, 0.15, 0.06, 0.0, "greater")["held"]  # Holm made p too large
    assert judge(-0.1, -0.15, -0.05, 0.001, 0.0, "less")["held"]
    assert not judge(-0.1, -0.15, -0.05, 0.001, 0.0, "greater")["held"]


def _seeds(effects, n=200, seed=0):
    """Per-seed metrics and units of a paired difference with the given true effects."""
    rng = np.random.default_rng(seed)
    metrics, units = [], []
    for eff in effects:
        d = np.clip(np.round(rng.normal(eff, 0.3, n), 2), -1, 1)
        e = {"mean": float(d.mean()), "ci_low": 0.0, "ci_high": 0.0, "n": n}
        metrics.append({"exp": {"w": {"diff": {"64": e}, "auroc": {"mean": 0.6 + eff, "ci_low": 0.5, "ci_high": 0.7}}}})
        units.append({"exp.w.diff.64": d.tolist()})
    return metrics, units


def _ep(name, metric="exp.w.diff.64", **kw):
    return Endpoint(name=name, metric=metric, direction=kw.pop("direction", "greater"), **kw)


def test_an_effect_that_exists_holds_and_a_null_one_does_not():
    seeds = [0, 1, 2, 3, 4]
    real, real_units = _seeds([0.1, 0.08, 0.12, 0.1, 0.09])
    null, null_units = _seeds([0.02, -0.03, 0.0, 0.01, -0.01], seed=1)
    ep = [_ep("gain")]
    held = evaluate_endpoints(ep, real, real_units, seeds, 1000, 0)["primary"]["gain"]
    failed = evaluate_endpoints(ep, null, null_units, seeds, 1000, 0)["primary"]["gain"]
    assert held["status"] == "held" and held["held"] and held["p_value"] < 0.01
    assert failed["status"] == "not held" and not failed["held"] and failed["p_holm"] > 0.05
    assert held["estimate"]["resampled"] == "seeds>problems" and len(held["per_seed"]) == 5


def test_the_endpoint_estimate_is_the_fanouts_pooled_estimate():
    seeds = [0, 1, 2]
    metrics, units = _seeds([0.1, 0.05, 0.0])
    pooled = pool_metrics(metrics, units, seeds, 500, seed=3)["exp"]["w"]["diff"]["64"]
    got = evaluate_endpoints([_ep("gain")], metrics, units, seeds, 500, 3)["primary"]["gain"]
    for k in ("mean", "ci_low", "ci_high", "resampled"):
        assert got["estimate"][k] == pooled[k]
    assert got["per_seed"] == pooled["per_seed"]


def test_holm_within_families_and_exploratory_apart():
    seeds = [0, 1, 2, 3, 4]
    metrics, units = _seeds([0.1, 0.1, 0.1, 0.1, 0.1])
    eps = [
        _ep("a"),
        _ep("b", family="other"),
        _ep("c"),
        _ep("x", primary=False),
        _ep("auc", metric="exp.w.auroc", threshold=0.5),
    ]  # no units: a bootstrap over seeds
    block = evaluate_endpoints(eps, metrics, units, seeds, 1000, 0)
    assert list(block["primary"]) == ["a", "b", "c", "auc"] and list(block["exploratory"]) == ["x"]
    a, b = block["primary"]["a"], block["primary"]["b"]
    assert a["family_size"] == 3 and b["family_size"] == 1
    assert a["p_holm"] == pytest.approx(min(1.0, 3 * a["p_value"]))  # three equally small ps
    assert b["p_holm"] == b["p_value"]
    assert "p_holm" not in block["exploratory"]["x"] and block["exploratory"]["x"]["family"] is None
    assert block["primary"]["auc"]["estimate"]["resampled"] == "seeds"


def test_a_missing_metric_is_reported_and_costs_its_family():
    metrics, units = _seeds([0.1, 0.1])
    block = evaluate_endpoints([_ep("gain"), _ep("typo", metric="exp.w.dif.64")], metrics, units, [0, 1], 500, 0)
    typo = block["primary"]["typo"]
    assert typo["status"] == "missing" and typo["held"] is None and typo["per_seed"] == [None, None]
    assert "no 'dif' under exp.w" in typo["reason"] and "seeds 0, 1" in typo["reason"]
    gain = block["primary"]["gain"]
    assert gain["p_holm"] == pytest.approx(min(1.0, 2 * gain["p_value"]))  # the missing one counts as p = 1
    html = endpoints_section(block)
    assert "missing" in html and html.index("Primary") < html.index("typo")


def test_one_seed_uses_problems_and_a_bare_number_is_untested():
    metrics, units = _seeds([0.2])
    metrics[0]["exp"]["count"] = 3
    block = evaluate_endpoints([_ep("gain"), _ep("n", metric="exp.count", primary=False)], metrics, units, [7], 500, 0)
    assert block["primary"]["gain"]["estimate"]["resampled"] == "problems" and block["primary"]["gain"]["held"]
    assert block["exploratory"]["n"]["status"] == "untested" and block["exploratory"]["n"]["per_seed"] == [3.0]


def test_report_keeps_primary_before_exploratory():
    metrics, units = _seeds([0.1, 0.1, 0.1])
    block = evaluate_endpoints([_ep("x", primary=False), _ep("a")], metrics, units, [0, 1, 2], 300, 0)
    html = endpoints_section(block)
    assert html.index("Primary") < html.index("Exploratory") and "Holm p" in html
    assert endpoints_section(None) == "" and endpoints_section({"primary": {}, "exploratory": {}}) == ""


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ({"name": "a", "metric": "generator.accuracy", "direction": "up"}, "endpoints.0.direction"),
        ({"name": "a", "metric": "generator.accuracy"}, "endpoints.0.direction: Field required"),
        (
            {"name": "a", "metric": "generator.accuracy", "direction": "greater", "tail": 1},
            "endpoints.0.tail: unknown key",
        ),
        ({"name": "a b", "metric": "generator.accuracy", "direction": "greater"}, "endpoints.0.name"),
        ({"name": "a", "metric": "best_of_n.x", "direction": "greater"}, "must start with a protocol this config runs"),
    ],
)
def test_bad_endpoints_fail_at_load_naming_the_key(endpoint, message):
    with pytest.raises(UserError) as err:
        config_from_dict({"protocol": "generator", "endpoints": [endpoint]}, "cfg.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_endpoint_names_are_distinct():
    e = {"name": "a", "metric": "generator.accuracy", "direction": "greater"}
    with pytest.raises(UserError, match="repeats the name 'a'"):
        config_from_dict({"protocol": "generator", "endpoints": [e, e]}, "cfg.yaml")
    cfg = config_from_dict({"protocol": "generator", "endpoints": [e]}, "cfg.yaml")
    assert cfg.endpoints[0].family_name == "generator"


def test_every_shipped_config_declares_a_primary_endpoint_on_its_own_metrics():
    from pathlib import Path

    from autoalign.config import load_config

    configs = sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml"))
    assert configs
    for path in configs:
        cfg = load_config(str(path), [])
        primary = [e for e in cfg.endpoints if e.primary]
        assert primary, f"{path.name}: no primary endpoint"
        protocols = [cfg.protocol] if isinstance(cfg.protocol, str) else list(cfg.protocol)
        assert all(e.metric.split(".", 1)[0] in protocols for e in cfg.endpoints), path.name
