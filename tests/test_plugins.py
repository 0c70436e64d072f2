"""An outside package adds a world and a protocol through the ``autoalign.plugins`` entry point,
and ``autoalign run`` and ``autoalign list`` use them: no autoalign file is edited."""

import json
import os
import subprocess
import sys
import textwrap

from conftest import pip_install_target

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
    (site / "parity_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: parity-plugin\nVersion: 0.1\n"
    )
    (site / "parity_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[autoalign.plugins]\nparity = parity_plugin\n"
    )
    (site / "parity_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return site


def test_outside_package_registers_world_and_protocol(tmp_path):
    site = _install_plugin(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    config = tmp_path / "parity.yaml"
    config.write_text("name: parity\nprotocol: parity_rule\nparity_rule:\n  problems: 300\n  world: {digits: 5}\n")
    run_dir = tmp_path / "runs" / "parity-1"
    cli = [sys.executable, "-m", "autoalign"]
    r = subprocess.run(
        cli + ["run", str(config), "--run-dir", str(run_dir), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)["metrics"]
    acc = metrics["parity_rule"]["accuracy"]
    assert 0.3 < acc["mean"] < 0.7  # the last digit alone says little about the sum's parity
    assert "Parity rule" in (run_dir / "report.html").read_text()

    r = subprocess.run(cli + ["list", str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "parity rule" in r.stdout, r.stdout + r.stderr

    # a bad key in the plugin's own section fails at load time with its path, like a built-in's
    config.write_text("protocol: parity_rule\nparity_rule:\n  problemz: 3\n")
    r = subprocess.run(
        cli + ["run", str(config), "--run-dir", str(tmp_path / "bad")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "parity_rule.problemz: unknown key" in r.stderr


PROVIDER_PLUGIN = '''
"""A plugin that adds one model provider, ``echo/<name>``, with its own settings section."""
from pydantic import BaseModel, ConfigDict, Field

from autoalign.models.handle import LanguageModel
from autoalign.models.providers import provider


class EchoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = Field("echo:", min_length=1)


class Echo(LanguageModel):
    def __init__(self, name, prefix):
        self.address, self.prefix = f"echo/{name}", prefix

    def generate(self, prompts, temperature=1.0, max_new_tokens=64, seed=0, batch_size=256, description="",
                 tokens_out=None):
        return [self.prefix + p for p in prompts]


@provider("echo", settings=EchoSettings)
def open_echo(name, settings):
    return Echo(name, settings.prefix)
'''

PROBE = """
import json, sys
from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.models.providers import open_model, parse_address, size_or_address
from autoalign.registry import providers
from autoalign.runtime.context import RunContext

out = {"in": "echo" in providers}  # first lookup of all: `in` alone must load the plugin
out["address"] = str(parse_address("echo/x", "generator.model"))
out["size"] = str(size_or_address("echo/y", "gdc.sizes"))
cfg = load_config(None, ["providers.echo.prefix=>>"])
RunContext("unused", 0, providers=cfg.model_dump(mode="json")["providers"]).use_models()
out["text"] = open_model("echo/x").generate(["hi"])
try:
    load_config(None, ["providers.echo.prefx=>>"])
except UserError as e:
    out["bad_key"] = str(e)
print(json.dumps(out))
"""


def test_outside_provider_is_found_on_every_lookup_path(tmp_path):
    """A provider from a package pip installs (its entry point written by pip) is found by ``in``,
    in addresses and ``sizes`` entries, opens with the settings of its own config section, and a
    misspelt setting fails at load with its path."""
    pkg = tmp_path / "pkg"
    (pkg / "echo_provider").mkdir(parents=True)
    (pkg / "echo_provider" / "__init__.py").write_text(textwrap.dedent(PROVIDER_PLUGIN))
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "echo-provider"
        version = "0.1"

        [project.entry-points."autoalign.plugins"]
        echo = "echo_provider"
    """)
    )
    env = pip_install_target(pkg, tmp_path / "site")
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["in"] and out["address"] == "echo/x" and out["size"] == "echo/y"
    assert out["text"] == [">>hi"]
    assert out["bad_key"] == "config (with --set): providers.echo.prefx: unknown key"

    # `autoalign serve` resolves the address too, then refuses it: the provider gives no weights
    r = subprocess.run(
        [sys.executable, "-m", "autoalign", "serve", "echo/x", "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        r.returncode == 2
        and r.stderr.strip() == "error: serve: echo/x is not a local model (its provider gives no weights to serve)"
    ), r.stderr
