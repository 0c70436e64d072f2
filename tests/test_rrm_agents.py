"""RRM with trained agents and a sweep of user noise: an agent that states nothing gets its pieces
rejected, the agent's reward never sees a piece's value, the config declares one endpoint per noise
setting, and one micro run end to end in which RLOO raises each agent's reward under its reward
model (and a control with a frozen optimizer does not: the check can fail)."""

import glob
import json

import numpy as np
import pytest

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.orchestration import execute, open_run
from autoalign.protocols.rrm import assisted_verdicts, make_outcomes, outcomes
from autoalign.protocols.rrm.agents import RewardModelReward, asks, train_agent
from autoalign.runtime.context import RunContext


def test_an_agent_that_states_nothing_gets_every_long_outcome_rejected():
    r = load_config("configs/rrm_agents.yaml", []).rrm
    source = make_outcomes(r)
    labelled = outcomes(r, r.levels, 0, "overseer", 100, source)
    stats: dict = {}
    said = assisted_verdicts(
        r, source, lambda level, pieces: [None] * len(pieces), [(p, c) for p, c, _ in labelled], stats
    )
    assert not any(said)
    assert stats["assistant_level2"] and not any(stats["assistant_level2"])


def test_the_agents_reward_reads_the_piece_and_its_options_only(monkeypatch):
    r = load_config("configs/rrm_agents.yaml", []).rrm
    source = make_outcomes(r)
    pieces = [p for p, _, _ in outcomes(r, 1, 0, "val", 20, source)]
    for p, a in zip(pieces, asks(source, pieces)):
        assert set(vars(a)) == {"prompt", "bodies"} and a.prompt == source.item(p, 0).prompt
        assert source.item(p, source.right_claim(p)).body in a.bodies and len(a.bodies) == 100

    # a stand-in reward model that says 0.5 to anything: a text that is no option earns 0 without asking it
    monkeypatch.setattr("autoalign.protocols.rrm.agents.p_true", lambda clf, tok, items: np.full(len(items), 0.5))
    reward = RewardModelReward(None, None)
    assert list(reward(asks(source, pieces[:3]), ["7;", "no", "7"])) == [0.5, 0.0, 0.0]


def test_the_config_declares_one_endpoint_per_noise_setting_and_defaults_are_unchanged():
    cfg = load_config("configs/rrm_agents.yaml", [])
    names = [s.name for s in cfg.rrm.noise_sweep]
    assert cfg.rrm.agents == "trained" and len(names) == 6
    swept = {e.metric.split(".")[3]: e for e in cfg.endpoints if ".noise_sweep." in e.metric}
    assert set(swept) == set(names)
    assert {k for k, e in swept.items() if e.primary} == {"symmetric_70", "rejects_right_70", "accepts_wrong_70"}
    assert all(e.direction == "greater" and e.threshold == 0 for e in swept.values())
    base = load_config("configs/rrm.yaml", []).rrm
    assert base.agents == "argmax" and base.noise_sweep == []
    twice = "{user_noise: symmetric, user_agreement: 0.7}"
    bad = {
        f"rrm.noise_sweep=[{twice}, {{user_noise: symmetric, user_agreement: 0.701}}]": "symmetric_70 listed twice",
        "rrm.noise_sweep=[{user_noise: loud, user_agreement: 0.7}]": "rrm.noise_sweep.0.user_noise",
        "rrm.noise_sweep=[{user_noise: symmetric, user_agreement: 0.3}]": "rrm.noise_sweep.0.user_agreement",
        "rrm.agents=trained_by_hand": "rrm.agents",
    }
    for override, message in bad.items():
        with pytest.raises(UserError, match=message) as e:
            load_config("configs/rrm_agents.yaml", [override])
        assert "\n" not in str(e.value)  # one line, naming the key


MICRO = [
    "bootstrap_resamples=100",
    "rrm.model_size=micro",
    "rrm.train_outcomes=200",
    "rrm.test_outcomes=100",
    "rrm.pretrain_steps=100",
    "rrm.steps=25",
    "rrm.batch_size=32",
    "rrm.eval_split=val",
    "rrm.agent.steps=20",
    "rrm.agent.lr=0.001",
    "rrm.agent.measure_every=10",
    "rrm.noise_sweep=[{user_noise: symmetric, user_agreement: 0.7}, {user_noise: rejects_right, user_agreement: 0.7}]",
]


def test_trained_agents_climb_their_reward_models_and_the_sweep_writes_a_row_per_setting(tmp_path):
    cfg = load_config("configs/rrm_agents.yaml", MICRO)
    store, _ = open_run(cfg, tmp_path / "run")
    m = execute(store, cfg)["rrm"]["rrm"]
    assert m["agents"] == "trained" and set(m["agent_training"]) == {"level1", "level2"}
    for a in m["agent_training"].values():
        assert a["reward_gain"] > 0.02 and a["kl"] > 0  # RLOO moved the agent toward its reward model
    assert list(m["noise_sweep"]) == ["symmetric_70", "rejects_right_70"]
    for row in m["noise_sweep"].values():
        assert row["unassisted"]["n"] == m["recursive"]["n"] == m["ceiling"]["n"] == 100  # same items
    assert m["noise_sweep"]["symmetric_70"]["unassisted"] == m["unassisted"]  # the run's own user, not retrained
    assert m["noise_sweep"]["rejects_right_70"]["label_accuracy"] != m["label_accuracy"]["unassisted"]
    assert set(m["assistant_accuracy"]) == {"assistant_level1", "assistant_level2"}
    for a in m["agent_training"].values():  # no statement earns more than the reward model's own top option
        assert a["greedy_reward_after"] <= a["argmax_reward"] + 1e-4
    report = store.file("report.html").read_text()
    assert "Trained agents" in report and "User noise swept" in report and 'alt="rrm_noise_sweep"' in report

    # the control: the same stage with a frozen optimizer gains nothing, so the check above can fail
    def result(name):
        return json.loads(open(glob.glob(str(tmp_path / "run" / "stages" / f"{name}.*.json"))[0]).read())["result"]

    frozen = load_config("configs/rrm_agents.yaml", [*MICRO, "rrm.agent.lr=1e-12", "rrm.agent.steps=2"]).rrm
    ctx = RunContext(run_dir=str(tmp_path / "run"), seed=cfg.seed)
    res = train_agent(ctx, frozen, 1, result("rrm.pretrain"), result("rrm.level1.recursive")["path"])
    first, last = res["checkpoints"][0], res["checkpoints"][-1]
    assert abs(last["reward"] - first["reward"]) < 1e-3  # same seed, same policy: no gain
