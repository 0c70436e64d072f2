"""Every README block marked ``<!-- printed by: autoalign ... -->`` is what that command prints on
the shipped results (``results/``), and the check can fail: a changed figure is caught."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "scripts" / "readme_figures.py")
readme_figures = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = readme_figures  # dataclasses look their module up there
spec.loader.exec_module(readme_figures)


def test_every_marked_readme_block_is_its_commands_output():
    readme = (ROOT / "README.md").read_text()
    assert readme_figures.blocks(readme), "the README marks no printed block"
    diffs = readme_figures.differences(readme)
    assert not diffs, "\n\n".join(diffs) + "\n(run: python scripts/readme_figures.py --write)"


def test_a_changed_figure_is_caught():
    readme = (ROOT / "README.md").read_text()
    first = readme_figures.blocks(readme)[0]
    lines = readme.split("\n")
    digit = next(i for i in range(first.start, first.end) if any(c.isdigit() for c in lines[i]))
    lines[digit] = "".join(str((int(c) + 1) % 10) if c.isdigit() else c for c in lines[digit])
    assert readme_figures.differences("\n".join(lines))


def test_a_mark_without_a_block_is_an_error():
    with pytest.raises(ValueError, match="line 2: a mark must be followed"):
        readme_figures.blocks("text\n<!-- printed by: autoalign summary x -->\nprose")


def test_ship_copies_results_not_models(tmp_path):
    from typer.testing import CliRunner

    from autoalign.cli import app

    run = tmp_path / "run"
    for folder in (run, run / "seed-3"):
        (folder / "models").mkdir(parents=True)
        (folder / "models" / "weights.bin").write_bytes(b"x" * 100)
        for name in ("metrics.json", "units.json", "config.yaml", "provenance.json"):
            (folder / name).write_text("{}")
    (run / "seeds.json").write_text("[3]")
    r = CliRunner().invoke(app, ["ship", str(run), str(tmp_path / "results" / "x")])
    assert r.exit_code == 0, r.output
    shipped = sorted(str(p.relative_to(tmp_path / "results" / "x")) for p in (tmp_path / "results" / "x").rglob("*"))
    assert shipped == sorted(
        ["config.yaml", "metrics.json", "units.json", "provenance.json", "seeds.json", "seed-3"]
        + [f"seed-3/{n}" for n in ("config.yaml", "metrics.json", "units.json", "provenance.json")]
    )
    r = CliRunner().invoke(app, ["ship", str(tmp_path / "nothing"), str(tmp_path / "y")])
    assert r.exit_code == 2 and "no metrics.json or research.json" in r.output


def environment_difference(run: Path) -> str:
    """What differs between the environment a shipped run recorded and this one's (CPU vector units,
    package versions); '' when nothing does."""
    import json

    from autoalign.preregistration import environment

    recorded = json.loads((run / "metrics.json").read_text()).get("provenance", {}).get("environment")
    if not recorded:
        return "the run recorded no environment"
    here = environment()
    diffs = []
    if recorded.get("cpu_flags") != here["cpu_flags"]:
        diffs.append(f"cpu_flags {recorded.get('cpu_flags')} here {here['cpu_flags']}")
    for name, version in here["packages"].items():
        if recorded.get("packages", {}).get(name) != version:
            diffs.append(f"{name} {recorded.get('packages', {}).get(name)} here {version}")
    return "; ".join(diffs)


def test_environment_difference_names_what_moved(tmp_path, monkeypatch):
    import json

    import autoalign.preregistration as prereg

    env = prereg.environment()
    (tmp_path / "metrics.json").write_text(json.dumps({"provenance": {"environment": env}}))
    assert environment_difference(tmp_path) == ""
    moved = {**env, "packages": {**env["packages"], "numpy": "1.0"}, "cpu_flags": ["avx512f"]}
    (tmp_path / "metrics.json").write_text(json.dumps({"provenance": {"environment": moved}}))
    assert "numpy 1.0 here" in environment_difference(tmp_path)
    assert "cpu_flags ['avx512f']" in environment_difference(tmp_path)
    (tmp_path / "metrics.json").write_text("{}")
    assert environment_difference(tmp_path) == "the run recorded no environment"


@pytest.mark.slow
def test_make_demo_prints_the_readmes_seed_0_block(tmp_path):
    """``autoalign demo`` on this checkout (about 30 minutes on 2 cores) prints, line for line, the
    README's seed-0 block: the figures a newcomer reads are the ones their first run shows."""
    from typer.testing import CliRunner

    from autoalign.cli import app

    readme = (ROOT / "README.md").read_text()
    block = next(b for b in readme_figures.blocks(readme) if b.command.startswith("autoalign summary results/demo/"))
    differs = environment_difference(ROOT / block.command.split()[-1])
    if differs:  # bitwise the same only where the vector units and packages are the same
        pytest.skip(f"the README's demo run was computed elsewhere: {differs}")
    r = CliRunner().invoke(app, ["demo", "--run-dir", str(tmp_path / "demo")])
    assert r.exit_code == 0, r.output

    def figures(lines):  # the research section's compute is wall time: the one figure that may differ
        return [re.sub(r"compute [\d.]+ min", "compute - min", line.rstrip()) for line in lines]

    printed = figures(line for line in r.stdout.splitlines() if not line.startswith("report: "))
    assert printed == figures(block.text.rstrip().split("\n"))
