"""Pre-registered endpoints: Holm, the seed-level t-test, the held rule, guarantees and the endpoints block."""

import math

import numpy as np
import pytest

from autoalign.config import config_from_dict
from autoalign.endpoints import Endpoint, evaluate_endpoints, holm, judge, summary_lines
from autoalign.errors import UserError
from autoalign.measures import seed_t_test
from autoalign.orchestration.fanout import pool_metrics
from autoalign.report.endpoints import endpoints_section


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> 0.06 (kept monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.01]) == pytest.approx([0.01]) and holm([]) == []


def test_the_seed_t_test_matches_a_hand_computation_and_scipy():
    from scipy import stats

    x = [0.1, 0.3, 0.2, 0.4, 0.0]  # mean 0.2, sd sqrt(0.025), se 0.0707, t = 2.828 at 4 df
    t = seed_t_test(x, 0.0, "greater")
    assert t["mean"] == pytest.approx(0.2) and t["t"] == pytest.approx(0.2 / math.sqrt(0.025 / 5))
    assert t["p"] == pytest.approx(stats.t.sf(t["t"], 4)) and t["df"] == 4 and t["n"] == 5
    half = stats.t.ppf(0.975, 4) * math.sqrt(0.025 / 5)
    assert (t["ci_low"], t["ci_high"]) == pytest.approx((0.2 - half, 0.2 + half))
    assert seed_t_test(x, 0.0, "less")["p"] == pytest.approx(1 - t["p"])
    assert seed_t_test(x, 0.2, "greater")["p"] == pytest.approx(0.5)
    assert math.isnan(seed_t_test([1.0, 1.0, 1.0], 0.5, "greater")["p"])  # a constant: no test
    with pytest.raises(ValueError, match="two seeds"):
        seed_t_test([0.3], 0.0, "greater")


def test_every_seed_on_one_side_is_not_enough_the_size_of_the_effect_counts():
    """The replaced bootstrap gave p = 1/(B+1) whenever all seeds fell on one side, whatever the
    effect; the t-test weighs the mean against the spread."""
    wild = [0.01, 0.5, 0.02, 0.9, 0.03]  # all > 0, but the mean is 1.7 standard errors from it
    steady = [0.30, 0.32, 0.29, 0.31, 0.30]
    assert 0.05 < seed_t_test(wild, 0.0, "greater")["p"] < 0.1
    assert seed_t_test(steady, 0.0, "greater")["p"] < 1e-6


def test_judge_needs_a_small_p_and_the_expected_side():
    assert judge(0.1, 0.001, 0.0, "greater") == (True, True)
    assert judge(0.1, 0.06, 0.0, "greater") == (False, True)  # Holm made p too large
    assert judge(-0.1, 0.001, 0.0, "less") == (True, True)
    assert judge(-0.1, 0.001, 0.0, "greater") == (False, False)  # a small p on the wrong side
    assert judge(0.1, float("nan"), 0.0, "greater") == (False, True)  # no test never holds
    held, _ = judge(np.array([0.1, 0.1]), np.array([0.01, 0.2]), 0.0, "greater")
    assert held.tolist() == [True, False]


def _seeds(effects, n=200, seed=0):
    """Per-seed metrics and units of a paired difference with the given true effects."""
    rng = np.random.default_rng(seed)
    metrics, units = [], []
    for eff in effects:
        d = np.clip(np.round(rng.normal(eff, 0.3, n), 2), -1, 1)
        e = {"mean": float(d.mean()), "ci_low": 0.0, "ci_high": 0.0, "n": n}
        auc = {"mean": 0.6 + eff + 0.01 * rng.standard_normal(), "ci_low": 0.5, "ci_high": 0.7}
        metrics.append({"exp": {"w": {"diff": {"64": e}, "auroc": auc}}})
        units.append({"exp.w.diff.64": d.tolist()})
    return metrics, units


def _ep(name, metric="exp.w.diff.64", **kw):
    return Endpoint(name=name, metric=metric, direction=kw.pop("direction", "greater"), **kw)


def test_an_effect_that_exists_holds_and_a_null_one_does_not():
    seeds = [0, 1, 2, 3, 4]
    real, real_units = _seeds([0.1, 0.08, 0.12, 0.1, 0.09])
    null, null_units = _seeds([0.02, -0.03, 0.0, 0.01, -0.01], seed=1)
    ep = [_ep("gain")]
    held = evaluate_endpoints(ep, real, real_units, seeds)["primary"]["gain"]
    failed = evaluate_endpoints(ep, null, null_units, seeds)["primary"]["gain"]
    assert held["status"] == "held" and held["held"] and held["p_value"] < 0.01
    assert failed["status"] == "not held" and not failed["held"] and failed["p_holm"] > 0.05
    assert held["test"] == "one-sided one-sample t-test over seeds" and held["family_size"] == 1
    assert held["estimate"]["interval"] == "t over seeds" and len(held["per_seed"]) == 5
    assert held["per_seed"] == [m["exp"]["w"]["diff"]["64"]["mean"] for m in real]


def test_the_endpoint_mean_is_the_fanouts_pooled_mean_and_its_interval_the_tests():
    seeds = [0, 1, 2]
    metrics, units = _seeds([0.1, 0.05, 0.0])
    pooled = pool_metrics(metrics, units, seeds, 500, seed=3)["exp"]["w"]["diff"]["64"]
    got = evaluate_endpoints([_ep("gain")], metrics, units, seeds, 500, 3)["primary"]["gain"]
    assert got["estimate"]["mean"] == pytest.approx(pooled["mean"]) and got["per_seed"] == pooled["per_seed"]
    t = seed_t_test(got["per_seed"], 0.0, "greater")
    assert got["p_value"] == t["p"] and got["estimate"]["ci_low"] == t["ci_low"]


def test_holm_within_families_and_exploratory_apart():
    seeds = [0, 1, 2, 3, 4]
    metrics, units = _seeds([0.1, 0.12, 0.08, 0.11, 0.09])
    eps = [
        _ep("a"),
        _ep("b", family="other"),
        _ep("c"),
        _ep("x", primary=False),
        _ep("auc", metric="exp.w.auroc", threshold=0.5),  # a per-seed-only number: the same test
    ]
    block = evaluate_endpoints(eps, metrics, units, seeds)
    assert list(block["primary"]) == ["a", "b", "c", "auc"] and list(block["exploratory"]) == ["x"]
    a, b = block["primary"]["a"], block["primary"]["b"]
    assert a["family_size"] == 3 and b["family_size"] == 1
    family = [block["primary"][n] for n in ("a", "c", "auc")]  # the default family: the protocol, exp
    assert [e["p_holm"] for e in family] == holm([e["p_value"] for e in family])
    assert a["p_holm"] > a["p_value"] and b["p_holm"] == b["p_value"]
    assert "p_holm" not in block["exploratory"]["x"] and block["exploratory"]["x"]["family"] is None
    assert block["primary"]["auc"]["status"] == "held" and block["guarantees"] == {}


def test_a_missing_metric_is_reported_and_costs_its_family():
    metrics, units = _seeds([0.1, 0.12])
    block = evaluate_endpoints([_ep("gain"), _ep("typo", metric="exp.w.dif.64")], metrics, units, [0, 1])
    typo = block["primary"]["typo"]
    assert typo["status"] == "missing" and typo["held"] is None and typo["per_seed"] == [None, None]
    assert "no 'dif' under exp.w" in typo["reason"] and "seeds 0, 1" in typo["reason"]
    gain = block["primary"]["gain"]
    assert gain["p_holm"] == pytest.approx(min(1.0, 2 * gain["p_value"]))  # the missing one counts as p = 1
    html = endpoints_section(block)
    assert "missing" in html and html.index("Primary") < html.index("typo")


def test_one_seed_or_no_spread_is_untested_never_held_and_costs_its_family():
    metrics, units = _seeds([0.3])
    block = evaluate_endpoints([_ep("gain")], metrics, units, [7])  # a large effect, but one seed
    one = block["primary"]["gain"]
    assert one["status"] == "untested" and one["held"] is None and "run more seeds" in one["reason"]
    flat = [{"exp": {"rate": 1.0, "gain": g}} for g in (0.2, 0.3, 0.25)]
    eps = [_ep("rate", metric="exp.rate", threshold=0.5), _ep("gain", metric="exp.gain")]
    block = evaluate_endpoints(eps, flat, seeds=[1, 2, 3])
    rate, gain = block["primary"]["rate"], block["primary"]["gain"]
    assert rate["status"] == "untested" and "no variation over seeds" in rate["reason"] and rate["p_holm"] is None
    assert gain["p_holm"] == pytest.approx(min(1.0, 2 * gain["p_value"]))  # the untested one counts as p = 1


def test_a_guarantee_is_asserted_per_seed_reported_apart_and_never_in_a_family():
    metrics = [{"exp": {"escapes": e, "gain": g}} for e, g in ((0, 0.2), (0, 0.3), (0, 0.25))]
    eps = [_ep("escapes", metric="exp.escapes", direction="less", threshold=0.5, kind="guarantee")]
    eps.append(_ep("gain", metric="exp.gain"))
    block = evaluate_endpoints(eps, metrics, seeds=[1, 2, 3])
    assert list(block["guarantees"]) == ["escapes"] and "escapes" not in block["primary"]
    assert block["guarantees"]["escapes"]["status"] == "kept" and block["guarantees"]["escapes"]["kept"]
    assert block["primary"]["gain"]["family_size"] == 1  # the guarantee buys and costs nothing
    metrics[1]["exp"]["escapes"] = 1  # one seed escapes: broken, and it says which
    broken = evaluate_endpoints(eps, metrics, seeds=[1, 2, 3])["guarantees"]["escapes"]
    assert broken["status"] == "broken" and not broken["kept"] and broken["reason"] == "seed 2: >= 0.5"
    one = evaluate_endpoints(eps[:1], [{"exp": {"escapes": 0}}], seeds=[0])["guarantees"]["escapes"]
    assert one["status"] == "kept"  # a guarantee needs no spread: one seed is asserted too
    gone = evaluate_endpoints(eps[:1], [{"exp": {}}], seeds=[0])["guarantees"]["escapes"]
    assert gone["status"] == "missing" and gone["kept"] is None
    html = endpoints_section(evaluate_endpoints(eps, metrics, seeds=[1, 2, 3]))
    assert "Guarantees" in html and "broken" in html and html.index("Primary") < html.index("Guarantees")
    lines = summary_lines(block)
    assert lines[-1].startswith("guarantee escapes (exp.escapes < 0.5 on every seed): kept")
    assert "family exp of 1" in lines[0]


def test_report_keeps_primary_before_exploratory():
    metrics, units = _seeds([0.1, 0.12, 0.09])
    block = evaluate_endpoints([_ep("x", primary=False), _ep("a")], metrics, units, [0, 1, 2])
    html = endpoints_section(block)
    assert html.index("Primary") < html.index("Exploratory") and "Holm p" in html and "(of 1)" in html
    assert endpoints_section(None) == "" and endpoints_section({"primary": {}, "exploratory": {}}) == ""


def test_the_old_bootstrap_p_path_is_gone():
    from pathlib import Path

    import autoalign.endpoints as endpoints

    source = Path(endpoints.__file__).read_text()
    assert not hasattr(endpoints, "bootstrap_p") and "_resamples(" not in source


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
        ({"name": "a", "metric": "generator.accuracy", "direction": "less", "kind": "law"}, "endpoints.0.kind"),
        (
            {"name": "a", "metric": "generator.accuracy", "direction": "less", "kind": "guarantee", "family": "f"},
            "'a' is a guarantee (asserted on every seed, in no Holm family): drop family",
        ),
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

    configs = [
        p
        for p in sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml"))
        if not p.name.startswith("research_")
    ]  # research configs declare theirs in research:
    assert configs
    for path in configs:
        cfg = load_config(str(path), [])
        primary = [e for e in cfg.endpoints if e.primary and e.kind == "hypothesis"]
        assert primary, f"{path.name}: no primary endpoint"
        if path.name == "organisms.yaml":  # sandbox escapes cannot vary by design: asserted, not tested
            assert [e.name for e in cfg.endpoints if e.kind == "guarantee"] == ["escapes"]
        protocols = [cfg.protocol] if isinstance(cfg.protocol, str) else list(cfg.protocol)
        assert all(e.metric.split(".", 1)[0] in protocols for e in cfg.endpoints), path.name


def test_a_guarantee_survives_the_round_trip_a_fan_out_makes():
    """A fan-out writes each seed's config with every default spelled out; a guarantee must load again
    (it once failed with "drop family and primary", and a five-seed demo stopped before its first stage)."""
    g = {"name": "a", "metric": "generator.accuracy", "direction": "less", "kind": "guarantee", "threshold": 0.5}
    cfg = config_from_dict({"protocol": "generator", "endpoints": [g]}, "cfg.yaml")
    again = config_from_dict(cfg.model_dump(mode="json"), "seed-0/config.yaml")
    assert again.endpoints[0].kind == "guarantee" and again.endpoints[0].primary
    with pytest.raises(UserError, match="drop primary"):
        config_from_dict({"protocol": "generator", "endpoints": [{**g, "primary": False}]}, "cfg.yaml")


def test_a_second_attempt_is_judged_at_its_registrations_alpha():
    """p = 0.03 holds at the first attempt's 0.05 and not at a second attempt's 0.025; missing stays."""
    from autoalign.endpoints import rejudge

    e = {"estimate": {"mean": 0.1}, "p_holm": 0.03, "threshold": 0.0, "direction": "greater", "status": "held"}
    block = {"alpha": 0.05, "primary": {"a": e, "b": {"status": "missing"}}, "exploratory": {}}
    assert rejudge(block, 0.05) is block
    second = rejudge(block, 0.025)
    assert second["primary"]["a"]["status"] == "not held" and second["primary"]["b"] == {"status": "missing"}
    assert second["alpha"] == 0.025 and block["primary"]["a"]["status"] == "held"  # the input is not changed
