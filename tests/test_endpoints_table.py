"""`autoalign endpoints`: one markdown table of several runs' pre-registered endpoints."""

import json

from typer.testing import CliRunner

from autoalign.cli import app


def _endpoint(status, per_seed, mean, p):
    return {
        "metric": "x.y",
        "direction": "greater",
        "threshold": 0.0,
        "per_seed": per_seed,
        "status": status,
        "estimate": {"mean": mean, "ci_low": mean - 0.02, "ci_high": mean + 0.02},
        "p_value": p,
        "p_holm": p,
    }


def _run(folder, metrics):
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_the_table_lists_primary_endpoints_of_every_run_and_exploratory_ones_on_request(tmp_path):
    block = {
        "seeds": [6, 7, 8, 9, 10],
        "primary": {"dc_gap": _endpoint("held", [0.05, 0.06], 0.055, 0.002)},
        "exploratory": {"auroc": _endpoint("not held", [0.01, -0.01], 0.0, 0.5)},
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
    assert "| gdc | dc_gap (> 0) | 6-10 | +0.050, +0.060 | +0.055 [+0.035, +0.075] | 0.002 | **held** |" in lines
    assert any(
        line.startswith("| sweep lr=0.1 | lift (> 0) | 1, 3 | -0.100, - |") and "not held" in line for line in lines
    )
    assert not any("auroc" in line for line in lines)
    out = CliRunner().invoke(app, ["endpoints", "--exploratory", str(a)])
    assert any("auroc (exploratory)" in line and "not held" in line for line in out.output.splitlines())


def test_a_folder_without_metrics_or_endpoints_is_one_clear_line(tmp_path):
    out = CliRunner().invoke(app, ["endpoints", str(tmp_path / "nowhere")])
    assert out.exit_code == 2 and "nowhere/metrics.json: no metrics.json" in out.output
    bare = _run(tmp_path / "bare", {"generator": {}})
    out = CliRunner().invoke(app, ["endpoints", str(bare)])
    assert out.exit_code == 2 and "no endpoints block" in out.output and "Traceback" not in out.output
