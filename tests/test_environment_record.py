"""Every run records the environment that computed it (issue #23: a rebuilt venv moved a figure and no
run said which versions it used), but as a record only: an upgrade must not change a digest or a
stage key, or every cached stage would be recomputed. And ``constraints.txt`` locks every declared
dependency at an exact version, so ``make`` installs the versions the shipped runs used."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import autoalign.preregistration as prereg
from autoalign.cli import app
from autoalign.config import config_from_dict
from autoalign.measures import bootstrap_ci
from autoalign.preregistration import SIMD_FLAGS
from autoalign.protocol import Section, protocol

ROOT = Path(__file__).resolve().parents[1]


class EnvProbeConfig(Section):
    problems: int = 40


def _coin(ctx, problems):
    hits = (np.random.default_rng(ctx.seed).random(problems) < 0.7).astype(float)
    return bootstrap_ci(hits, n_resamples=100, seed=ctx.seed)


@protocol("environment_probe", sections={"environment_probe": EnvProbeConfig})
def _probe(ctx, cfg):
    """One cached stage, so a resume shows whether the stage key moved."""
    return {"accuracy": ctx.stage("coin", _coin, cfg.environment_probe.problems)}


CONFIG = {"name": "envprobe", "protocol": "environment_probe", "bootstrap_resamples": 100}


def _versions(monkeypatch, version: str) -> None:
    monkeypatch.setattr(prereg, "package_version", lambda name: version)


def test_the_environment_is_recorded_with_every_numeric_package(tmp_path, monkeypatch):
    monkeypatch.setattr(prereg, "source_checkout", lambda: None)
    env = prereg.run_provenance(tmp_path, config_from_dict(CONFIG), [0])["environment"]
    assert set(env["packages"]) == {
        "torch", "numpy", "transformers", "tokenizers", "safetensors", "scipy", "scikit-learn", "optuna"
    }  # fmt: skip
    assert env["packages"]["numpy"] == np.__version__  # the installed version, read from its metadata
    assert env["python"].count(".") == 2 and env["system"] and env["machine"] and env["cpu"]
    if Path("/proc/cpuinfo").is_file():  # the vector units torch's kernels choose between
        assert isinstance(env["cpu_flags"], list) and set(env["cpu_flags"]) <= set(SIMD_FLAGS)


def test_a_missing_package_is_none(monkeypatch):
    assert prereg.package_version("autoalign-no-such-package") is None
    monkeypatch.setattr(prereg, "NUMERIC_PACKAGES", ("numpy", "autoalign-no-such-package"))
    packages = prereg.environment()["packages"]
    assert packages == {"numpy": np.__version__, "autoalign-no-such-package": None}


def test_a_fanout_flags_seeds_that_ran_under_different_environments(tmp_path, monkeypatch):
    monkeypatch.setattr(prereg, "source_checkout", lambda: None)
    cfg = config_from_dict({**CONFIG, "seeds": [1, 2]})
    seed = {"provenance": prereg.run_provenance(tmp_path, cfg, [1])}
    assert prereg.fanout_provenance(tmp_path, cfg, [seed, seed])["environment_mixed"] is False
    _versions(monkeypatch, "0.0-other")  # one seed ran before an upgrade
    old = {"provenance": prereg.run_provenance(tmp_path, cfg, [2])}
    top = prereg.fanout_provenance(tmp_path, cfg, [seed, old])
    assert top["environment_mixed"] is True and top["environment"]["packages"]["torch"] == "0.0-other"
    unknown = {"provenance": {k: v for k, v in seed["provenance"].items() if k != "environment"}}
    assert prereg.fanout_provenance(tmp_path, cfg, [old, unknown])["environment_mixed"] is None  # no record


def test_a_fanout_records_where_its_seeds_computed_and_flags_a_mix(tmp_path, monkeypatch):
    """``device: auto`` and ``autocast: auto`` resolve by machine: seeds fanned out over machines of
    different kinds could compute on other devices or in other precisions; the pooled provenance says
    so, and such a run is not a confirmatory test."""
    monkeypatch.setattr(prereg, "source_checkout", lambda: None)
    cfg = config_from_dict({**CONFIG, "seeds": [1, 2]})

    def seed(s, device, autocast):
        return {"provenance": prereg.run_provenance(tmp_path, cfg, [s], {"device": device, "autocast": autocast})}

    same = prereg.fanout_provenance(tmp_path, cfg, [seed(1, "cpu", "bf16-wide"), seed(2, "cpu", "bf16-wide")])
    assert (same["device"], same["autocast"], same["placement_mixed"]) == ("cpu", "bf16-wide", False)
    precision = prereg.fanout_provenance(tmp_path, cfg, [seed(1, "cpu", "bf16-wide"), seed(2, "cpu", "off")])
    assert (precision["device"], precision["autocast"], precision["placement_mixed"]) == ("cpu", None, True)
    device = prereg.fanout_provenance(tmp_path, cfg, [seed(1, "cuda", "bf16"), seed(2, "cpu", "bf16")])
    assert (device["device"], device["autocast"], device["placement_mixed"]) == (None, "bf16", True)
    old = prereg.fanout_provenance(tmp_path, cfg, [seed(1, "cpu", "off"), {"provenance": {}}])  # a seed from before
    assert (old["device"], old["autocast"], old["placement_mixed"]) == (None, None, None)
    # a pooled run whose seeds computed differently is not a confirmatory test
    clean = {"commit": "c0ffee", "finished_commit": "c0ffee", "clean": True, "finished_clean": True}
    clean |= {"seed_commits": ["c0ffee"], "config_name": "probe"}
    for mixed in (precision, device):
        why = prereg.confirmatory_evidence({"provenance": {**mixed, **clean}}, None)[1]
        assert why == "its seeds computed on different devices or in different precisions"
    assert prereg.confirmatory_evidence({"provenance": {**same, **clean}}, None)[1].startswith("no git checkout")


def test_an_upgrade_changes_no_digest_and_no_stage_key(tmp_path, monkeypatch):
    monkeypatch.setattr(prereg, "source_checkout", lambda: None)
    cfg = config_from_dict(CONFIG)
    _versions(monkeypatch, "1.0")
    digest = prereg.science_digest(cfg)
    (tmp_path / "c.yaml").write_text(json.dumps(CONFIG))
    run = tmp_path / "run"
    out = CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), "--run-dir", str(run), "--quiet"])
    assert out.exit_code == 0, out.output
    before = json.loads((run / "metrics.json").read_text())

    _versions(monkeypatch, "2.0")  # the venv is rebuilt with newer packages
    assert prereg.science_digest(cfg) == digest
    out = CliRunner().invoke(app, ["run", "--resume", str(run), "--quiet"])
    assert out.exit_code == 0, out.output
    after = json.loads((run / "metrics.json").read_text())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    coin = [e["event"] for e in events if e.get("stage") == "coin"]
    assert coin.count("stage_started") == 1 and coin[-1] == "stage_skipped", coin  # reused, not recomputed
    assert after["environment_probe"] == before["environment_probe"]
    assert before["provenance"]["environment"]["packages"]["torch"] == "1.0"
    assert after["provenance"]["environment"]["packages"]["torch"] == "2.0"  # the record follows the venv
    assert after["provenance"]["science_digest"] == before["provenance"]["science_digest"] == digest


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]).lower()


def _lock_problems(declared: list[str], lock: str) -> list[str]:
    """What is wrong with a lock: a line that is not an exact pin, a declared dependency left out, torch."""
    problems, pins = [], set()
    for line in lock.splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            if sep and version.strip() and " " not in line.strip():
                pins.add(_name(name))
            else:
                problems.append(f"not an exact pin: {line!r}")
    problems += [f"not locked: {n}" for n in sorted({_name(r) for r in declared} - {"torch"} - pins)]
    problems += [
        f"locked, but pinned elsewhere: {n}"
        for n in sorted(pins)
        if n in ("torch", "triton") or n.startswith("nvidia-")
    ]
    return problems


def test_the_lock_pins_every_declared_dependency_exactly_and_not_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    install = re.search(r'-e "\.\[([^\]]+)\]" -c constraints.txt', (ROOT / "Makefile").read_text())
    assert install, "Makefile: the install line no longer reads the lock (-c constraints.txt)"
    extras = install.group(1).split(",")
    assert "research" in extras and "dev" in extras
    declared = list(project["dependencies"]) + [r for x in extras for r in project["optional-dependencies"][x]]
    lock = (ROOT / "constraints.txt").read_text()
    assert _lock_problems(declared, lock) == [], "constraints.txt: fix with `make lock`"
    # negative controls: each fault is caught
    assert _lock_problems(declared + ["newpkg>=1"], lock) == ["not locked: newpkg"]
    loose = _lock_problems(declared, lock.replace("numpy==", "numpy>="))
    assert len(loose) == 2 and loose[0].startswith("not an exact pin: 'numpy>=") and loose[1] == "not locked: numpy"
    assert _lock_problems(declared, lock + "torch==2.13.0\n") == ["locked, but pinned elsewhere: torch"]
