"""The declared precision checks (``scripts/{autocast,fixed_steps,compile}_check.py``): their rule can give each
verdict, they refuse runs off the declared design, and the README quotes what they print on the shipped runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from autocast_check import verdict  # noqa: E402

CHECKS = {
    "autocast_check.py": ["results/autocast_check/fp32-seeds31-35", "results/autocast_check/bf16-seeds31-35"],
    "fixed_steps_check.py": ["results/fixed_steps_check/fp32-seeds31-35", "results/fixed_steps_check/bf16-seeds31-35"],
    "compile_check.py": ["results/compile_check/eager-seeds36-40", "results/compile_check/compiled-seeds36-40"],
}


def test_the_rule_gives_each_verdict():
    assert verdict([0.10, 0.11, 0.09, 0.10, 0.12])[3] == "moves"
    assert verdict([-0.10, -0.11, -0.09, -0.10, -0.12])[3] == "moves"
    assert verdict([0.001, -0.002, 0.0, 0.003, -0.001])[3] == "does not move"
    assert verdict([0.2, -0.2, 0.1, -0.1, 0.0])[3] == "inconclusive"


@pytest.mark.parametrize("script", sorted(CHECKS))
def test_the_readme_quotes_what_each_check_prints(script):
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *CHECKS[script]], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert f"```\n{out.stdout.strip()}\n```" in (ROOT / "README.md").read_text()


def _arms(tmp_path):
    arms = [tmp_path / "eager", tmp_path / "compiled"]
    for src, dst in zip(CHECKS["compile_check.py"], arms):
        shutil.copytree(ROOT / src, dst)
    return arms


def _edit(metrics: Path, **provenance):
    m = json.loads(metrics.read_text())
    m["provenance"].update(provenance)
    metrics.write_text(json.dumps(m))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e, c: _edit(c / "seed-38" / "metrics.json", compile="off"), "seed-38: compile 'off'"),
        (lambda e, c: _edit(e / "seed-36" / "metrics.json", commit="0" * 40), "must run one commit"),
        (lambda e, c: _edit(c / "seed-40" / "metrics.json", clean=False), "uncommitted changes"),
        (lambda e, c: shutil.rmtree(e / "seed-37"), "finished seeds"),
        (lambda e, c: _edit(c / "seed-37" / "metrics.json", autocast="bf16"), "with autocast 'bf16'"),
        (lambda e, c: _edit(e / "seed-39" / "metrics.json", science_digest="0" * 16), "ran different science"),
        (lambda e, c: _edit(c / "seed-36" / "metrics.json", environment={}), "different environments"),
    ],
)
def test_the_compile_check_is_void_off_its_declared_design(tmp_path, change, message):
    from compile_check import main

    eager, compiled = _arms(tmp_path)
    main(str(eager), str(compiled))  # as shipped: runs
    change(eager, compiled)
    with pytest.raises(SystemExit, match=f"void, as bench/compile_check.yaml declares: .*{message}"):
        main(str(eager), str(compiled))


def test_a_run_records_its_compile_setting(tmp_path, monkeypatch):
    """The compile check reads it; without it every future compiled run would be void."""
    from autoalign import preregistration as prereg
    from autoalign.config import config_from_dict

    monkeypatch.setattr(prereg, "source_checkout", lambda: None)
    for setting in ("off", "on"):
        cfg = config_from_dict({"compile": setting}, "c.yaml")
        assert prereg.run_provenance(tmp_path, cfg, [0])["compile"] == setting
