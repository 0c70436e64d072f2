"""The demo's research section (``research/demo.py``): ``autoalign demo`` runs the packaged search into
``<run>/research/`` after its experiments and reuses a finished one, ``--seed`` moves its seeds,
``autoalign summary`` prints its lines and ``autoalign ship`` copies its result files, not its models.
No training: the demo's experiments and the search itself are replaced by recorders."""

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoalign import orchestration
from autoalign.cli import app
from autoalign.research import demo as research_demo
from autoalign.research.config import load_research
from autoalign.research.notebook import summary_lines

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = resources.files("autoalign") / "configs" / "demo-research.yaml"


def fake_result(search=(101, 102), test=(201, 202)) -> dict:
    """A research.json as ``final_summary`` writes it, with made-up figures."""
    gain = {"per_seed": [0.01, 0.03], "mean": 0.02, "ci_low": -0.1, "ci_high": 0.14, "p": 0.2}
    return {
        "search_seeds": list(search),
        "test_seeds": list(test),
        "alpha": 0.05,
        "noise_floor": {"sd": 0.05, "n": 2, "detectable_gain": 0.4},
        "proposers": {
            name: {"proposals": 2, "kept": 0, "final": {}, "validation_gain": gain, "test_gain": gain}
            for name in ("random", "tpe")
        },
        "sealed_test_pgr": {"ce": {"mean": 0.1}, "baseline": {"mean": 0.12, "ci_low": 0.0, "ci_high": 0.3}},
        "canaries_caught": {"majority": True, "peek": True},
        "every_canary_caught": True,
        "compute": {"seconds": 120.0, "evaluations": 20},
    }


@pytest.fixture
def demo_env(monkeypatch):
    """The demo with its experiments replaced (no training) and run_research recorded: each call writes
    what the real one leaves behind (research.yaml, research.json)."""
    calls = []

    def execute(store, cfg):
        store.file("metrics.json").write_text("{}")
        return {}

    def run_research(config, folder, overrides=None):
        calls.append((Path(config), Path(folder), list(overrides or [])))
        r = load_research(config, overrides)[0].research  # the overrides are a valid research config
        result = fake_result(r.search_seeds, r.test_seeds)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "research.yaml").write_text(Path(config).read_text())
        (folder / "research.json").write_text(json.dumps(result))
        return result

    monkeypatch.setattr(orchestration, "execute", execute)
    monkeypatch.setattr("autoalign.report.summary.summary_lines", lambda *a, **k: ["the demo's own summary"])
    monkeypatch.setattr(research_demo, "run_research", run_research)
    return calls


def test_the_demo_runs_the_packaged_search_into_its_folder_after_its_own_summary(tmp_path, demo_env):
    run = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--quick", "--run-dir", str(run)])
    assert r.exit_code == 0, r.output
    [(config, folder, overrides)] = demo_env
    assert config.name == "demo-research.yaml" and config.read_text() == PACKAGED.read_text()
    assert folder == run / "research" and overrides == []
    out = r.stdout.splitlines()
    lines = summary_lines(fake_result())
    assert out[0] == "the demo's own summary" and out[1] == f"report: {run / 'report.html'}"
    assert out[2:] == lines + [f"report: {run / 'research' / 'research.html'}"]


def test_a_second_demo_reloads_a_finished_search_and_a_changed_config_reruns_it(tmp_path, demo_env):
    run = tmp_path / "demo"
    first = CliRunner().invoke(app, ["demo", "--run-dir", str(run)])
    second = CliRunner().invoke(app, ["demo", "--run-dir", str(run)])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert len(demo_env) == 1  # reloaded, not rerun
    assert second.stdout == first.stdout
    # negative control: research.yaml from another version of the packaged config is moved aside, rerun
    (run / "research" / "research.yaml").write_text("name: older\n")
    third = CliRunner().invoke(app, ["demo", "--run-dir", str(run)])
    assert third.exit_code == 0, third.output
    assert len(demo_env) == 2 and "kept the previous research as" in third.stderr
    assert [p.name.startswith("research.old-") for p in run.iterdir() if p.name.startswith("research.")] == [True]


def test_demo_seed_shifts_search_and_test_seeds_alike_and_keeps_them_disjoint(tmp_path, demo_env):
    r = CliRunner().invoke(app, ["demo", "--seed", "3", "--run-dir", str(tmp_path / "demo3"), "--json"])
    assert r.exit_code == 0, r.output
    [(config, folder, overrides)] = demo_env
    research, _ = load_research(config, overrides)
    base = load_research(config)[0]
    assert research.research.search_seeds == [s + 3000 for s in base.research.search_seeds]
    assert research.research.test_seeds == [s + 3000 for s in base.research.test_seeds]
    assert not set(research.research.search_seeds) & set(research.research.test_seeds)
    assert research.seed == base.seed + 3
    out = json.loads(r.stdout)  # --json: the demo's metrics and, under "research", the search's result
    assert out["metrics"] == {} and out["research"]["test_seeds"] == research.research.test_seeds


def shipped_demo_run(tmp_path) -> Path:
    """A copy of the shipped demo's seed 0 (its real metrics), as a run folder."""
    run = tmp_path / "run"
    shutil.copytree(ROOT / "results" / "demo" / "demo5" / "seed-0", run)
    return run


def test_summary_prints_the_research_lines_only_when_the_run_has_research(tmp_path):
    run = shipped_demo_run(tmp_path)
    plain = CliRunner().invoke(app, ["summary", str(run)])
    assert plain.exit_code == 0, plain.output
    assert "research:" not in plain.stdout
    (run / "research").mkdir()
    (run / "research" / "research.json").write_text(json.dumps(fake_result()))
    with_research = CliRunner().invoke(app, ["summary", str(run)])
    assert with_research.exit_code == 0, with_research.output
    assert with_research.stdout.splitlines() == plain.stdout.splitlines() + summary_lines(fake_result())


def test_ship_copies_the_research_results_and_no_models_or_stages(tmp_path):
    run = shipped_demo_run(tmp_path)
    (run / "models").mkdir()
    (run / "models" / "weights.bin").write_bytes(b"x" * 100)
    results = ("research.yaml", "research.json", "notebook.jsonl", "curve.png", "research.html")
    for name in results:
        (run / "research").mkdir(exist_ok=True)
        (run / "research" / name).write_text("{}")
    stages = run / "research" / "search" / "seed-101"
    (stages / "models").mkdir(parents=True)
    (stages / "models" / "student.pt").write_bytes(b"x" * 100)
    (stages / "stages").mkdir()
    (stages / "stages" / "weak.json").write_text("{}")
    (stages / "metrics.json").write_text("{}")
    audit = run / "research" / "boundary" / "server" / "audit.jsonl"  # the evaluation server's log: shipped
    audit.parent.mkdir(parents=True)
    audit.write_text("{}\n")
    (run / "research" / "boundary" / "students").mkdir()  # the students' weights: not shipped
    (run / "research" / "boundary" / "students" / "model.safetensors").write_bytes(b"x" * 100)
    dest = tmp_path / "results" / "demo"
    r = CliRunner().invoke(app, ["ship", str(run), str(dest)])
    assert r.exit_code == 0, r.output
    shipped = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    top = sorted(p.name for p in (ROOT / "results" / "demo" / "demo5" / "seed-0").iterdir())
    assert shipped == sorted(top + [f"research/{n}" for n in results] + ["research/boundary/server/audit.jsonl"])
    # negative control: without research.json the folder is not a research section and is not shipped
    (run / "research" / "research.json").unlink()
    r = CliRunner().invoke(app, ["ship", str(run), str(tmp_path / "again")])
    assert r.exit_code == 0 and not (tmp_path / "again" / "research").exists()


def test_a_proposer_that_kept_nothing_reports_no_gain_and_a_kept_one_does():
    from autoalign.research.notebook import summary_lines

    result = fake_result()
    result["sealed_test_pgr"].update({"random": {"mean": 0.12}, "tpe": {"mean": 0.12}})  # the baseline's values
    lines = summary_lines(result)
    assert all("nothing kept: no sealed-test comparison" in line for line in lines[1:3])
    assert not any("+0.020" in line or "random 0.120" in line for line in lines)  # no gain, no copied row
    assert "the 2nd" in lines[0]  # the detectable gain at the last look too
    result["proposers"]["tpe"]["kept"] = 1  # negative control: a kept method is compared
    result["sealed_test_pgr"]["tpe"] = {"mean": 0.2, "ci_low": 0.1, "ci_high": 0.3}
    lines = summary_lines(result)
    assert "sealed-test gain +0.020 [-0.100, +0.140] (p 0.200)" in lines[2] and "tpe 0.200" in lines[3]
