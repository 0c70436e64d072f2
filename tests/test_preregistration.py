"""Verifiable pre-registration: a run is confirmatory only when the commit it started at holds a
registration matching its science digest and seeds, with a clean tree; every other case is
exploratory with its reason. Each reason is shown on a real temporary git repository, and a whole
run (a toy protocol fanned out over seeds) is judged both ways end to end."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

import autoalign.preregistration as prereg
from autoalign.cli import app
from autoalign.config import load_config
from autoalign.measures import bootstrap_ci
from autoalign.protocol import Section, protocol

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


class ProbeConfig(Section):
    problems: int = 60
    rate: float = 0.8


@protocol("provenance_probe", sections={"provenance_probe": ProbeConfig})
def _probe(ctx, cfg):
    """A protocol that trains nothing: a seeded coin per problem, so a run takes a second."""
    rng = np.random.default_rng(ctx.seed)
    hits = (rng.random(cfg.provenance_probe.problems) < cfg.provenance_probe.rate).astype(float)
    return {"accuracy": bootstrap_ci(hits, n_resamples=200, seed=ctx.seed)}


PROBE = """name: probe
protocol: provenance_probe
provenance_probe: {{problems: 60, rate: {rate}}}
bootstrap_resamples: 200
endpoints:
  - {{name: above_half, metric: provenance_probe.accuracy, direction: greater, threshold: 0.5}}
"""


def _git(repo, *args) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "configs").mkdir(parents=True)
    _git(root, "init", "-q")
    (root / "configs" / "probe.yaml").write_text(PROBE.format(rate=0.8))
    (root / ".gitignore").write_text("runs/\n")
    _commit(root, "code")
    return root


def _cli(*args):
    out = CliRunner().invoke(app, [str(a) for a in args])
    return out.exit_code, out.output


def test_the_science_digest_ignores_where_and_how_fast_but_not_what_is_computed(repo):
    path = repo / "configs" / "probe.yaml"
    base = prereg.science_digest(load_config(path))
    where = ["seeds=[6,7]", "executor=process", "workers=2", "threads=4", "name=elsewhere", "device=cpu", "seed=3"]
    assert prereg.science_digest(load_config(path, where)) == base
    moved = "endpoints=[{name: above_half, metric: provenance_probe.accuracy, direction: greater, threshold: 0.6}]"
    for science in ("provenance_probe.rate=0.7", "bootstrap_resamples=300", moved):
        assert prereg.science_digest(load_config(path, [science])) != base, science


def test_preregister_writes_refuses_to_overwrite_and_supersedes_with_fresh_seeds(repo):
    config, folder = repo / "configs" / "probe.yaml", repo / "preregistered"
    code, out = _cli("preregister", config, "--dir", folder)
    assert code == 2 and "name at least two seeds" in out and len(out.strip().splitlines()) == 1
    code, out = _cli("preregister", config, "--dir", folder, "--seeds", "1-3")
    assert code == 0, out
    assert "git add" in out and "git commit" in out and "--set seeds=[1,2,3]" in out
    first = json.loads((folder / "probe.json").read_text())
    assert first["seeds"] == [1, 2, 3] and first["config_name"] == "probe" and first["attempt"] == 1
    assert first["config_file"] == "configs/probe.yaml"
    assert first["replication"] == "second-attempt" and first["alpha"] == 0.05 and first["supersedes"] is None
    assert first["science_digest"] == prereg.science_digest(load_config(config))
    assert [e["name"] for e in first["endpoints"]] == ["above_half"] and first["autoalign"]

    code, out = _cli("preregister", config, "--dir", folder, "--seeds", "4,5")
    assert code == 2 and "registered already" in out and len(out.strip().splitlines()) == 1
    assert json.loads((folder / "probe.json").read_text()) == first  # untouched
    code, out = _cli("preregister", config, "--dir", folder, "--seeds", "3-5", "--supersede")
    assert code == 2 and "seeds 3 were registered before" in out

    # a second attempt (the first registration's rule) is tested alone at half the alpha
    code, out = _cli(
        "preregister", config, "--dir", folder, "--seeds", "6-10", "--supersede", "--replication", "pooled"
    )
    assert code == 0, out
    second = json.loads((folder / "probe.json").read_text())
    assert json.loads((folder / "probe.1.json").read_text()) == first
    assert second["attempt"] == 2 and second["alpha"] == 0.025 and second["test_seeds"] == [6, 7, 8, 9, 10]
    assert second["supersedes"]["file"] == "probe.1.json" and second["supersedes"]["seeds"] == [1, 2, 3]
    # ... and the second one's rule, pooled, pools what follows at the same alpha
    code, out = _cli(
        "preregister", config, "--dir", folder, "--seeds", "11,12", "--supersede", "--replication", "pooled"
    )
    third = json.loads((folder / "probe.json").read_text())
    assert code == 0 and json.loads((folder / "probe.2.json").read_text()) == second
    assert third["alpha"] == 0.025 and third["test_seeds"] == [6, 7, 8, 9, 10, 11, 12] and third["attempt"] == 3
    # pooling needs one config for all its seeds
    config.write_text(PROBE.format(rate=0.7))
    code, out = _cli("preregister", config, "--dir", folder, "--seeds", "13,14", "--supersede")
    assert code == 2 and "config changed" in out
    for bad in (["--seeds", "a-b"], ["--seeds", "1,1"], ["--seeds", "1,2", "--replication", "later"]):
        code, out = _cli("preregister", config, "--dir", repo / "other", *bad)
        assert code == 2 and out.startswith("error:") and len(out.strip().splitlines()) == 1, out


def test_confirmatory_needs_a_committed_matching_registration_and_a_clean_tree(repo):
    config = repo / "configs" / "probe.yaml"
    before = _git(repo, "rev-parse", "HEAD")
    cfg = load_config(config)
    prereg.preregister(config, cfg, [1, 2, 3], "second-attempt", repo / "preregistered", False)
    after = _commit(repo, "pre-register probe")
    good = {
        "commit": after,
        "clean": True,
        "finished_commit": after,
        "finished_clean": True,
        "config_name": "probe",
        "science_digest": prereg.science_digest(cfg),
        "seeds": [3, 1, 2],
        "seed_commits": [after],
    }

    def judge(**change):
        return prereg.confirmatory({"provenance": {**good, **change}}, repo)

    ok, why = judge()
    assert ok and "preregistered/probe.json" in why and after[:10] in why and "alpha 0.05" in why
    cases = {
        "no provenance recorded": prereg.confirmatory({"generator": {}}, repo),
        "no commit recorded": judge(commit=None),
        "not clean": judge(clean=False),
        "not clean (": judge(finished_clean=None),
        "changed during the run": judge(finished_commit=before),
        "changed during the run (": judge(seed_commits=[before, after]),
        "no config file recorded": judge(config_name=None),
        f"no preregistered/probe.json in commit {before[:10]}": judge(
            commit=before, finished_commit=before, seed_commits=[before]
        ),
        "is not in": judge(commit="f" * 40, finished_commit="f" * 40, seed_commits=["f" * 40]),
        "science digest": judge(science_digest="0" * 16),
        "seeds 1, 2, 4 are not the registered 1-3": judge(seeds=[1, 2, 4]),
        "no git checkout": prereg.confirmatory({"provenance": good}, None),
    }
    for reason, (ok, why) in cases.items():
        assert not ok and reason in why, (reason, why)

    # what counts is the committed file: editing it afterwards changes nothing
    path = repo / "preregistered" / "probe.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "seeds": [1, 2, 4]}))
    assert not judge(seeds=[1, 2, 4])[0] and judge()[0]


def test_git_is_optional(tmp_path, monkeypatch):
    assert prereg.head_commit(tmp_path) is None and prereg.tree_clean(tmp_path) is None  # not a checkout
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert prereg._git(tmp_path, "status") is None and prereg.head_commit(tmp_path) is None


def _evidence(run_dir) -> list[str]:
    code, out = _cli("endpoints", run_dir)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert lines[0].endswith("| evidence |")
    rows = [line for line in lines[2:] if "above_half" in line]
    assert rows
    return [row.rsplit("|", 2)[-2].strip() for row in rows]


def test_runs_record_provenance_and_only_the_registered_one_is_confirmatory(repo, tmp_path, monkeypatch):
    monkeypatch.setattr(prereg, "source_checkout", lambda: repo)
    config, runs = repo / "configs" / "probe.yaml", tmp_path / "runs"

    def run(name, *sets):
        code, out = _cli("run", config, "--run-dir", runs / name, "--quiet", *[x for s in sets for x in ("--set", s)])
        assert code == 0, out
        return json.loads((runs / name / "metrics.json").read_text())

    run("early", "seeds=[1,2]")  # seen before the registration existed
    assert _cli("preregister", config, "--dir", repo / "preregistered", "--seeds", "1,2")[0] == 0
    head = _commit(repo, "pre-register probe")
    assert _cli("run", "--resume", runs / "early", "--quiet")[0] == 0  # every stage reused, at the new commit
    assert _evidence(runs / "early")[0].startswith("exploratory: the code changed during the run")

    metrics = run("registered", "seeds=[1,2]")
    p = metrics["provenance"]
    assert p["commit"] == p["finished_commit"] == head and p["clean"] is True and p["seeds"] == [1, 2]
    assert p["config_name"] == "probe" and p["config_file"] == "configs/probe.yaml"
    assert p["science_digest"] == prereg.science_digest(load_config(config)) and p["seed_commits"] == [head]
    assert metrics["provenance_probe"]["accuracy"]["seeds"] == [1, 2]  # provenance is not pooled as a metric
    sub = json.loads((runs / "registered" / "seed-2" / "metrics.json").read_text())["provenance"]
    assert sub["commit"] == head and sub["seeds"] == [2]
    assert sub["autocast"] == p["autocast"] == "off" and sub["device"] == p["device"] == "cpu"  # where it computed
    assert p["placement_mixed"] is False
    assert _evidence(runs / "registered") == [
        f"confirmatory: preregistered/probe.json in {head[:10]} (attempt 1, alpha 0.05)"
    ]
    assert _evidence(runs / "registered" / "seed-1")[0].startswith("exploratory: seeds 1 are not the registered 1, 2")

    run("other-seeds", "seeds=[1,3]")
    assert _evidence(runs / "other-seeds")[0].startswith("exploratory: seeds 1, 3 are not")
    run("other-config", "seeds=[1,2]", "provenance_probe.rate=0.9")
    assert _evidence(runs / "other-config")[0].startswith("exploratory: the config differs")
    (repo / "configs" / "probe.yaml").write_text(PROBE.format(rate=0.8) + "# edited\n")  # a dirty tree
    run("dirty", "seeds=[1,2]")
    assert _evidence(runs / "dirty")[0].startswith("exploratory: the tree was not clean")
