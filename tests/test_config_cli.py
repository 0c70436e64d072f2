"""User mistakes end in one line on stderr and exit code 2, never a traceback."""

import subprocess
import sys

import pytest

from autoalign.config import load_config
from autoalign.errors import UserError


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "autoalign", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\ngenerator:\n  size: tiny\n")
    cfg = load_config(
        path, ["generator.lr=0.01", "world.name=arithmetic", "world.max_steps=7", "generator.target_accuracy=null"]
    )
    assert cfg.seed == 3 and cfg.generator.size == "tiny" and cfg.generator.lr == 0.01
    assert cfg.world.config.max_steps == 7 and cfg.generator.target_accuracy is None


@pytest.mark.parametrize(
    "text, expect",
    [
        ("seed: 1\nfoo: bar: baz\n", "c.yaml:2: invalid YAML: mapping values are not allowed here"),
        ("seed: 1\ngeneratr:\n  size: tiny\n", "c.yaml: generatr: unknown key"),
        (
            "world:\n  name: arithmetic\n  min_steps: -2\n",
            "c.yaml: world: Value error, world 'arithmetic': min_steps: Input should be greater than or equal to 1",
        ),
        ("generator:\n  size: huge\n", "c.yaml: generator.size:"),
        ("generator:\n  lr: fast\n", "c.yaml: generator.lr:"),
        ("- 1\n- 2\n", "must be a mapping"),
        (
            "protocol: debate_digits\ndebate_digits:\n  ks: [4, 30]\n",
            "c.yaml: debate_digits: Value error, ks: at most 16 pixels",
        ),
        (
            "protocol: gdc_gaps\ngdc:\n  sizes: [tiny]\n  critic_size: small\n",
            "c.yaml: gdc: Value error, critic_size must be one of sizes",
        ),
        ("protocol: [best_of_n, debate]\n", "c.yaml: protocol"),
    ],
)
def test_bad_config_is_one_line(tmp_path, text, expect):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        load_config(path)
    assert expect in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "text, args, expect",
    [
        ("generator: {size: [\n", [], "invalid YAML"),
        ("bogus_key: 1\n", [], "bogus_key: unknown key"),
        ("world:\n  name: arithmetic\n  max_steps: -3\n", [], "world 'arithmetic': max_steps"),
        ("seed: 0\n", ["--set", "world.min_steps=-1"], "world: Value error, name the world: add `name: arithmetic`"),
        ("seed: 0\n", ["--set", "nonsense"], "expected key.path=value"),
    ],
)
def test_cli_reports_bad_input_in_one_line(tmp_path, text, args, expect):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = run_cli("run", str(path), "--run-dir", str(tmp_path / "run"), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "run").exists()


def test_cli_missing_files_and_bad_resume(tmp_path):
    r = run_cli("run", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "cannot read config" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("run", "--resume", str(tmp_path))
    assert r.returncode == 2 and "not a run folder" in r.stderr


def test_cli_data_export_and_check(tmp_path):
    out = tmp_path / "gold.jsonl"
    assert run_cli("data", "export", str(out), "--n", "5").returncode == 0
    r = run_cli("data", "check", str(out))
    assert r.returncode == 0 and "5 examples" in r.stdout and "100.0% labelled correct" in r.stdout
    out.write_text(out.read_text() + '{"prompt": 1}\n')
    r = run_cli("data", "check", str(out))
    assert r.returncode == 2 and f"{out}:6:" in r.stderr and "Traceback" not in r.stderr


def test_list_shows_each_runs_headline(tmp_path):
    import json

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("protocol: [debate_facts]\n")
    (run / "metrics.json").write_text(
        json.dumps({"debate_facts": {"facts": {"debate": {"mean": 0.77}, "blind": {"mean": 0.49}}}})
    )
    broken = tmp_path / "runs" / "r2"
    broken.mkdir()
    (broken / "config.yaml").write_text("protocol: gdc_gaps\n")
    (broken / "metrics.json").write_text(json.dumps({"gdc_gaps": {"gdc": {}}}))
    out = run_cli("list", str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    assert "debate 77.0%" in out.stdout and "gdc_gaps" in out.stdout


def test_every_shipped_and_demo_config_loads():
    """The configs a user runs first are valid under today's schema (worlds as {name, ...knobs},
    overseers and methods by registry name, provider settings in providers:)."""
    from pathlib import Path

    from autoalign.config import load_config

    root = Path(__file__).resolve().parents[1]
    paths = sorted(root.glob("configs/*.yaml")) + sorted((root / "src" / "autoalign" / "configs").glob("*.yaml"))
    assert len(paths) >= 13
    for path in paths:
        if path.name.startswith("research_") or path.stem.endswith("-research"):  # `autoalign research` configs
            from autoalign.research.config import load_research

            assert load_research(path)[0].name, path.name
            continue
        cfg = load_config(str(path), [])
        assert cfg.name, path.name


def test_threads_default_to_autoalign_threads_and_a_bad_value_is_one_line(monkeypatch):
    monkeypatch.setenv("AUTOALIGN_THREADS", "3")
    assert load_config("configs/generator.yaml").threads == 3
    assert load_config("configs/generator.yaml", ["threads=1"]).threads == 1  # the config still wins
    monkeypatch.delenv("AUTOALIGN_THREADS")
    assert load_config("configs/generator.yaml").threads == 2
    for bad in ("two", "0", "-1"):
        monkeypatch.setenv("AUTOALIGN_THREADS", bad)
        with pytest.raises(UserError, match="AUTOALIGN_THREADS: expected a whole number"):
            load_config("configs/generator.yaml")
