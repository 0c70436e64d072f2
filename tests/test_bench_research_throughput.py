"""The research-throughput bench's arithmetic: evaluations per core-hour from a run's stage times,
and the side-by-side comparison's ratio of best times and its check that both arms computed the same."""

from __future__ import annotations

import pytest
from conftest import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("bench_research_throughput")


def stages(method_seconds: float) -> dict:
    return {
        "w2s.micro.pretrain": 10.0,
        "w2s.micro-tiny.ce.0": method_seconds,
        "w2s.micro-tiny.confidence.0": method_seconds + 2,
        "w2s.score": 2.0,
    }


def test_an_evaluation_is_a_method_stage_and_its_share_of_scoring(bench):
    out = bench.throughput(stages(6.0), threads=2)
    assert out["evaluations"] == 2
    assert out["seconds_per_evaluation"] == pytest.approx(8.0)  # (7 + 9) / 2
    assert out["evaluations_per_core_hour"] == pytest.approx(3600 / 16)
    assert out["once_per_seed_stages"] == {"w2s.micro.pretrain": 10.0}


@pytest.mark.parametrize("same", [True, False])
def test_the_comparison_takes_each_arms_best_round_and_says_whether_they_computed_the_same(bench, monkeypatch, same):
    calls = []
    times = {"old": iter([9.0, 8.0]), "new": iter([7.0, 7.5])}

    def run_protocol(config, source, tmp, name):
        arm = "old" if source != bench.REPO else "new"
        calls.append(arm)
        return stages(next(times[arm]) - 1), {"accuracy": 0.5 if same or arm == "old" else 0.6}

    monkeypatch.setattr(bench, "run_protocol", run_protocol)
    monkeypatch.setattr(bench, "git", lambda *a, **k: "abc1234")
    monkeypatch.setattr(bench, "clean", lambda: True)
    out = bench.compare({}, "old0000", rounds=2, threads=1)
    assert calls == ["old", "new", "old", "new"]  # alternately
    assert out["best_seconds_per_evaluation"] == {"old0000": pytest.approx(9.0), "abc1234": pytest.approx(8.0)}
    assert out["speedup"] == pytest.approx(9.0 / 8.0)
    assert out["metrics_equal"] is same
