import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Under pytest-xdist (`make test` runs two workers on two cores) every test and every run it starts
# uses one torch thread, so that the workers never oversubscribe the cores (two threads per job on a
# loaded core made training several times slower); the in-process tests get the same.
TEST_THREADS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
if TEST_THREADS == 1:
    os.environ["AUTOALIGN_THREADS"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# CI replays a fixed set of generated examples (reproducible); elsewhere hypothesis keeps searching.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pip_install_target(package, site) -> dict:
    """Install the package folder ``package`` with pip into the folder ``site`` (pip writes its entry
    points, as for a user) and return an environment whose Python sees it."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    r = subprocess.run(cmd + ["--target", str(site), str(package)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(TEST_THREADS)
    from autoalign.runtime.progress import set_progress

    set_progress(False)
    yield


# The kill-and-resume machinery, not the science (test_verifiers checks that a briefly trained tiny
# generator is far above chance): long enough to be killed between checkpoints (the kill comes at the
# first checkpoint, step 10, and leaves 40 steps to resume; 100 steps with checkpoints every 25 proved
# the same at twice the training).
TINY_RUN = [
    "generator.size=tiny",
    "generator.train_steps=50",
    "generator.eval_every=25",
    "generator.checkpoint_every=10",
    "generator.eval_problems=16",
    "generator.lr=0.005",
    "world.min_steps=1",
    "world.max_steps=2",
    "sampling.test_problems=30",
    "sampling.samples_per_problem=2",
    "bootstrap_resamples=200",
]

# Files whose tests train models or run the CLI end to end: the science checks, run after the unit
# tests (``make test`` runs ``-m "not science"`` first, then ``-m science``).
SCIENCE = {
    "test_resume.py",
    "test_gdc.py",
    "test_verifiers.py",
    "test_side_by_side.py",
    "test_fanout.py",
    "test_plugins.py",
    "test_reproductions.py",
    "test_any_checkpoint.py",
    "test_serve_roles.py",
    "test_weak_to_strong_science.py",
    "test_train_prm_science.py",
    "test_amplification_science.py",
    "test_organisms_science.py",
    "test_outside_plugin.py",
}
SCIENCE_TESTS = {
    "test_digits_debate_run_lifts_the_judge",
    "test_facts_run_has_protocols_and_elo",
    "test_trained_agents_climb_their_reward_models_and_the_sweep_writes_a_row_per_setting",
    "test_robustness_run_writes_every_overseer_and_the_trained_judge_beats_random",
    "test_a_planted_sandbagger_is_wrong_when_evaluated_and_its_twin_is_not",
}


# The longest checks start first, so that two workers finish together (the rest fill in around them).
LONGEST_FIRST = [
    "test_briefly_trained_critic_catches_planted_flaws_and_an_untrained_one_does_not",
    "test_kill_mid_training_then_resume_matches_uninterrupted_run",
    "test_side_by_side_stages_survive_sigkill",
    "test_seeds_on_a_process_pool_match_serial",
    "test_amplification_runs_end_to_end_and_its_targets_improve",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SCIENCE or item.originalname in SCIENCE_TESTS:
            item.add_marker(pytest.mark.science)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.originalname, len(rank)))  # stable: the rest keep their order


def load_bench(name: str):
    """A script of ``bench/`` as a module (the scripts are not a package), as ``bench_device.py`` loads one."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
