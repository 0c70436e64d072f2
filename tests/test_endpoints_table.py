"""`autoalign endpoints`: one markdown table of several runs' pre-registered endpoints."""

import json

from typer.testing import CliRunner

from autoalign.cli import app


def _endpoint(status, per_seed, mean, p, family_size=1):
    return {
        "metric": "x.y",
        "direction": "greater",
        "threshold": 0.0,
        "per_seed": per_seed,
        "status": status,
        "estimate": {"mean": mean, "ci_low": mean - 0.02, "ci_high": mean + 0.02},
        "p_value": p,
        "p_holm": p,
        "family_size": family_size,
    }


def _row(lines, row):
    """The index of the line that starts with ``row`` (later columns, such as the evidence, aside)."""
    found = [i for i, line in enumerate(lines) if line.startswith(row)]
    assert len(found) == 1, (row, lines)
    return found[0]


def _run(folder, metrics):
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_the_table_lists_primary_endpoints_of_every_run_and_exploratory_ones_on_request(tmp_path):
    escapes = {"metric": "x.e", "direction": "less", "threshold": 0.5, "per_seed": [0, 0], "status": "kept"}
    block = {
        "seeds": [6, 7, 8, 9, 10],
        "primary": {"dc_gap": _endpoint("held", [0.05, 0.06], 0.055, 0.002, family_size=4)},
        "exploratory": {"auroc": _endpoint("not held", [0.01, -0.01], 0.0, 0.5)},
        "guarantees": {"escapes": escapes},
    }
    a = _run(tmp_path / "gdc", {"gdc_gaps": {}, "endpoints": block})
    b = _run(
        tmp_path / "sweep",
        {
            "lr=0.1": {
                "endpoints": {"seeds": [1, 3], "primary": {"lift": _endpoint("not held", [-0.1, None], -0.1, 1.0)}}
            }
        },
    )
    out = CliRunner().invoke(app, ["endpoints", str(a), str(b)])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].startswith("| run | endpoint")
    assert lines[0].startswith("| run | endpoint | seeds | per seed | mean [95% CI] | p (Holm, m) | result |")
    gdc = f"{tmp_path.name}/gdc"  # several runs: each labelled config-folder/run
    held = f"| {gdc} | dc_gap (> 0) | 6-10 | +0.050, +0.060 | +0.055 [+0.035, +0.075] | 0.002 (m=4) | **held** |"
    assert _row(lines, held) == 2
    guarantee = f"| {gdc} | escapes (guarantee: < 0.5 per seed) | 6-10 | +0.000, +0.000 | - | - | kept (guarantee) |"
    assert _row(lines, guarantee) == 3  # after the run's hypotheses
    assert any(
        line.startswith(f"| {tmp_path.name}/sweep lr=0.1 | lift (> 0) | 1, 3 | -0.100, - |") and "not held" in line
        for line in lines
    )
    assert not any("auroc" in line for line in lines)
    out = CliRunner().invoke(app, ["endpoints", "--exploratory", str(a)])
    assert any(
        line.startswith("| gdc | auroc (exploratory) (> 0) |") and "| 0.500 | not held |" in line
        for line in out.output.splitlines()
    )


def test_an_untested_endpoint_shows_its_mean_and_no_p(tmp_path):
    e = _endpoint("untested", [1.0, 1.0], 1.0, None)
    e["estimate"] = {"mean": 1.0, "n": 2}
    run = _run(tmp_path / "org", {"endpoints": {"seeds": [1, 2], "primary": {"monitor": e}}})
    out = CliRunner().invoke(app, ["endpoints", str(run)])
    untested = "| org | monitor (> 0) | 1, 2 | +1.000, +1.000 | +1.000 | - | untested |"
    assert _row(out.output.splitlines(), untested) == 2


def test_a_folder_without_metrics_or_endpoints_is_one_clear_line(tmp_path):
    out = CliRunner().invoke(app, ["endpoints", str(tmp_path / "nowhere")])
    assert out.exit_code == 2 and "nowhere/metrics.json: no metrics.json" in out.output
    bare = _run(tmp_path / "bare", {"generator": {}})
    out = CliRunner().invoke(app, ["endpoints", str(bare)])
    assert out.exit_code == 2 and "no endpoints block" in out.output and "Traceback" not in out.output
