"""bench/bench_platform.py's stage profile: seconds per stage read from a run's events, overlaps counted once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_bench


def _bench():
    return load_bench("bench_platform")


def _events(path: Path, rows: list[tuple[str, float, float]]) -> None:
    lines = [{"time": 0.0, "event": "run_started"}]
    lines += [{"time": end, "event": "stage_finished", "stage": name, "seconds": sec} for name, end, sec in rows]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_stage_profile_sums_by_name_and_counts_side_by_side_stages_once(tmp_path):
    # two generators side by side (0-10 s and 2-10 s), then two seeds of one stage (10-14, 14-20)
    _events(
        tmp_path / "events.jsonl",
        [
            ("gdc.micro.train", 10.0, 10.0),
            ("gdc.tiny.train", 10.0, 8.0),
            ("w2s.seed1.fit", 14.0, 4.0),
            ("w2s.seed2.fit", 20.0, 6.0),
        ],
    )
    profile = _bench().stage_profile(tmp_path, wall_s=25.0, top=2)
    assert profile["stages"] == {"gdc.micro.train": 10.0, "w2s.seedN.fit": 10.0}  # seeds merged, sizes apart
    assert profile["other_stages_s"] == 8.0
    assert profile["in_stages_s"] == 20.0  # not 28: the side-by-side stages overlap
    assert profile["outside_stages_s"] == 5.0
    assert profile["stage_count"] == 4


def test_stage_profile_without_events_says_so(tmp_path):
    assert "no events.jsonl" in _bench().stage_profile(tmp_path, wall_s=1.0)["note"]


def test_only_names_workloads_and_refuses_unknown_ones():
    bench = _bench()
    assert bench.workloads_from("demo,demo-quick") == ["demo", "demo-quick"]
    assert bench.workloads_from("both") == ["demo", "best_of_n"]
    with pytest.raises(SystemExit, match="unknown workload"):
        bench.workloads_from("demo,fast")


def test_experiment_totals_group_stages_by_their_experiment(tmp_path):
    _events(
        tmp_path / "events.jsonl",
        [
            ("train_generator", 5.0, 5.0),
            ("arithmetic.train_prm", 7.0, 2.0),
            ("gdc.micro.train", 9.0, 2.0),
            ("gdc.tiny.train", 9.0, 1.5),
        ],
    )
    assert _bench().experiment_totals(tmp_path / "events.jsonl") == {"generator": 5.0, "gdc": 3.5, "best_of_n": 2.0}
