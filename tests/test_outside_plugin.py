"""A real outside package, installed with pip, plugs a world, an overseer, a weak-to-strong method
and a model provider into autoalign, and the shipped protocols use them by config alone.

``tests/outside_plugin`` is that package (``graph_walk_lab``): a graph-walk world with its own step
format and planted flaws, a lookup-table PRM, a hard-label method and a scripted walker policy. It
is copied to a temporary folder, built and installed by pip into a target folder (pip writes the
entry point), and autoalign runs in a subprocess with that folder on its path. No autoalign file
names the plugin: the last test checks that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pip_install_target

HERE = Path(__file__).parent
SRC = HERE.parent / "src" / "autoalign"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(HERE / "outside_plugin", root / "pkg")
    site = root / "site"
    env = pip_install_target(root / "pkg", site)
    assert (next(site.glob("graph_walk_lab-*.dist-info")) / "entry_points.txt").read_text().count("autoalign.plugins")
    return root, env


def autoalign(env, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "autoalign", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_no_autoalign_file_names_the_plugin():
    for path in SRC.rglob("*"):
        if path.suffix in (".py", ".yaml", ".toml", ".cfg", ".txt"):
            text = path.read_text()
            for name in ("graph_walk", "step_table", "hard_labels", "walker/"):
                assert name not in text, f"{path} names the plugin's {name}"


WORLD = "{name: graph_walk, nodes: 5, min_hops: 2, max_hops: 3}"

CONFIG = """
name: outside
protocol: [best_of_n, weak_to_strong, gdc_gaps, rrm]
seed: 0
bootstrap_resamples: 100
world: WORLD
generator: {model: walker/0.3}
sampling: {max_new_tokens: 24, batch_size: 64}
best_of_n:
  worlds: [graph_walk]
  overseers: [step_table]
  backbone: hf/BACKBONE
  train_problems: 80
  train_samples_per_problem: 4
  test_problems: 40
  pool_size: 8
  n_values: [1, 4, 8]
  subsets: 20
  verifier: {steps: 4, batch_size: 16, weak_baseline: false, ablation: false}
  active_learning: {enabled: false}
weak_to_strong:
  world: WORLD
  sizes: [micro, tiny]
  pretrain_steps: {micro: 10, tiny: 10}
  train_steps: 6
  batch_size: 16
  weak_items: 40
  transfer_items: 40
  test_items: 40
  methods: [ce, hard_labels]
  noise_seeds: 0
gdc:
  world: WORLD
  sizes: [micro]
  train_steps: 20
  batch_size: 16
  test_problems: 20
  critique_samples: 2
  adversarial_tries: 2
  bonuses: [0]
  own_samples: 2
  own_train_steps: 0
  curve_every: 0
rrm:
  world: {name: graph_walk, nodes: 5, min_hops: 2, max_hops: 4}
  checkable_steps: 1
  levels: 2
  train_outcomes: 60
  test_outcomes: 40
  model_size: micro
  pretrain_steps: 10
  steps: 5
  batch_size: 16
"""


def save_backbone(folder: Path) -> None:
    """A micro character-level model, untrained: the white-box backbone the PRM and ORM start from
    (the walker generator is black-box)."""
    from autoalign.models import build_char_tokenizer, build_model

    tokenizer = build_char_tokenizer()
    model = build_model("llama", "micro", tokenizer, seed=0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def test_protocols_run_on_the_outside_world_overseer_method_and_provider(plugin_env):
    root, env = plugin_env
    save_backbone(root / "backbone")
    config = root / "outside.yaml"
    config.write_text(CONFIG.replace("WORLD", WORLD).replace("BACKBONE", str(root / "backbone")))
    run_dir = root / "runs" / "outside"
    r = autoalign(env, "run", str(config), "--run-dir", str(run_dir), "--json", "--set", "threads=2")
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout)["metrics"]

    # best-of-N: the walker played the generator on the outside world; the outside overseer is
    # compared beside the built-ins on the same pools, and it can tell right walks from wrong ones
    bon = m["best_of_n"]
    curves = bon["best_of_n"]["graph_walk"]
    for method in ("prm", "orm", "majority", "step_table"):
        assert set(curves[method]) == {"1", "4", "8"}, method
    assert 0.3 < bon["generator_sample_accuracy"]["graph_walk"] < 0.9  # walker/0.3 over 2-3 hops
    # a step's text alone cannot say whether that edge is in this prompt's graph, so the table is a
    # weak overseer here (0.68 at seed 0), but better than chance
    assert bon["verifier_auroc"]["graph_walk"]["step_table"]["mean"] > 0.55

    # weak-to-strong: the outside method ran and was scored like the built-in one
    pair = m["weak_to_strong"]["weak_to_strong"]["pairs"]["micro->tiny"]
    assert set(pair["methods"]) == {"ce", "hard_labels"}
    assert 0 <= pair["methods"]["hard_labels"]["student"]["mean"] <= 1

    # GDC: trained on the outside world's gold walks and its planted flaws
    g = m["gdc_gaps"]["gdc"]["micro"]
    assert set(g["catch_rate_by_flaw"]) <= {"wrong_edge", "short_walk"} and g["catch_rate_by_flaw"]
    assert 0 <= g["discriminator"]["mean"] <= 1

    # RRM: outcomes are stretches of the outside world's gold walks with planted wrong claims
    rrm = m["rrm"]["rrm"]
    assert rrm["world"] == "graph_walk" and rrm["outcomes"] == "solutions"
    assert 0 <= rrm["recursive"]["mean"] <= 1


def test_a_typo_in_the_outside_worlds_knobs_is_one_line(plugin_env):
    root, env = plugin_env
    config = root / "typo.yaml"
    config.write_text("protocol: gdc_gaps\ngdc:\n  world: {name: graph_walk, nodez: 5}\n")
    r = autoalign(env, "run", str(config), "--run-dir", str(root / "typo"))
    assert r.returncode == 2 and "nodez: unknown key" in r.stderr and "Traceback" not in r.stderr, r.stderr


ORGANISMS = """
name: outside-organisms
protocol: organisms
seed: 0
bootstrap_resamples: 100
organisms:
  organisms: [liar]
  overseers: [prm, consistency, step_table]
  sizes: [micro]
  base_steps: {micro: 60}
  overseer_size: micro
  overseer_steps: 30
  verifier_steps: 10
  verifier_problems: 30
  test_problems: 24
  liar: {steps: 20}
"""


def test_the_organisms_table_shows_the_outside_overseer_beside_the_built_ins(plugin_env):
    root, env = plugin_env
    config = root / "organisms.yaml"
    config.write_text(ORGANISMS)
    r = autoalign(env, "run", str(config), "--run-dir", str(root / "runs" / "organisms"), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    liar = json.loads(r.stdout)["metrics"]["organisms"]["liar"]
    for column in ("prm", "consistency", "step_table"):
        est = liar[column]["tpr_at_5fpr"]
        assert 0 <= est["ci_low"] <= est["mean"] <= est["ci_high"] <= 1, column
    assert 0 <= liar["step_table"]["auroc"] <= 1
