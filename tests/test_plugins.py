"""An outside package adds a world and a protocol through the ``autoalign.plugins`` entry point,
and ``autoalign run`` and ``autoalign list`` use them: no autoalign file is edited."""

import json
import os
import subprocess
import sys
import textwrap

PLUGIN = '''
"""A plugin: the parity world (is the sum of the digits even?) and a protocol that measures a rule."""
import random

from pydantic import BaseModel, ConfigDict, Field

from autoalign.measures import bootstrap_ci
from autoalign.protocol import Section, protocol
from autoalign.records import Verdict
from autoalign.registry import worlds
from autoalign.worlds import make_world
from autoalign.worlds.base import World


class ParityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digits: int = Field(6, ge=1)


class Problem:
    def __init__(self, digits):
        self.digits = digits
        self.prompt = "".join(map(str, digits)) + "?"
        self.answer = "even" if sum(digits) % 2 == 0 else "odd"
        self.solution = self.answer
        self.n_steps = 1


@worlds.register("parity")
class ParityWorld(World):
    name = "parity"
    Config = ParityConfig

    def draw(self, rng: random.Random):
        return Problem([rng.randrange(10) for _ in range(self.config.digits)])

    def check(self, problem, text):
        ok = text.strip() == problem.answer
        return Verdict([text], [ok], text, ok, text.strip() in ("even", "odd"))


class RuleConfig(Section):
    problems: int = Field(200, ge=1)
    world: ParityConfig = Field(default_factory=ParityConfig)


def measure(ctx, r):
    world = make_world("parity", r.world)
    problems = world.problems(ctx.seed, "test", r.problems)
    guess = ["even" if int(p.prompt[-2]) % 2 == 0 else "odd" for p in problems]  # last digit only
    return {"accuracy": bootstrap_ci([world.check(p, g).correct for p, g in zip(problems, guess)], **ctx.boot)}


@protocol("parity_rule", sections={"parity_rule": RuleConfig},
          summary=lambda r: [f"last-digit rule: {r['accuracy']['mean']:.1%}"],
          headline=lambda r: f"parity rule {r['accuracy']['mean']:.1%}",
          report=lambda store, r, stages: "<h2>Parity rule</h2>")
def run(ctx, cfg):
    return ctx.stage("parity.measure", measure, cfg.parity_rule)
'''


def _install_plugin(root):
    site = root / "site"
    (site / "parity_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "parity_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: parity-plugin\nVersion: 0.1\n")
    (site / "parity_plugin-0.1.dist-info" / "entry_points.txt").write_text("[autoalign.plugins]\nparity = parity_plugin\n")
    (site / "parity_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return site


def test_outside_package_registers_world_and_protocol(tmp_path):
    site = _install_plugin(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    config = tmp_path / "parity.yaml"
    config.write_text("name: parity\nprotocol: parity_rule\nparity_rule:\n  problems: 300\n  world: {digits: 5}\n")
    run_dir = tmp_path / "runs" / "parity-1"
    cli = [sys.executable, "-m", "autoalign"]
    r = subprocess.run(cli + ["run", str(config), "--run-dir", str(run_dir), "--json"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)["metrics"]
    acc = metrics["parity_rule"]["accuracy"]
    assert 0.3 < acc["mean"] < 0.7  # the last digit alone says little about the sum's parity
    assert "Parity rule" in (run_dir / "report.html").read_text()

    r = subprocess.run(cli + ["list", str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "parity rule" in r.stdout, r.stdout + r.stderr

    # a bad key in the plugin's own section fails at load time with its path, like a built-in's
    config.write_text("protocol: parity_rule\nparity_rule:\n  problemz: 3\n")
    r = subprocess.run(cli + ["run", str(config), "--run-dir", str(tmp_path / "bad")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "parity_rule.problemz: unknown key" in r.stderr
