"""Training autocast (models/device.py): the policy a run resolves, where it applies, and that it trains in bf16."""

from __future__ import annotations

import pytest
import torch

from autoalign.config import config_from_dict
from autoalign.errors import UserError
from autoalign.models import TrainConfig, build_char_tokenizer, build_model, train_lm
from autoalign.models import device as device_module
from autoalign.models.device import model_width, resolve_autocast, run_placement, training_autocast
from autoalign.runtime.context import RunContext
from autoalign.runtime.placement import autocast_policy, set_placement
from autoalign.seeding import derive_seed
from autoalign.worlds import ArithmeticConfig, generate


@pytest.fixture
def policy():
    """Set this process's autocast policy for one test, then back to off."""
    yield lambda name: set_placement("cpu", "float32", name)
    set_placement("cpu", "float32", "off")


def test_explicit_values_pass_through_and_bad_ones_are_named():
    assert resolve_autocast("off", "cpu") == "off"
    assert resolve_autocast("bf16", "cpu") == "bf16"
    with pytest.raises(UserError, match="autocast: unknown value 'fp8'"):
        resolve_autocast("fp8", "cpu")


@pytest.mark.parametrize(
    "flags, want",
    [(["avx2", "avx512_bf16"], "bf16-wide"), (["amx_bf16"], "bf16-wide"), (["avx2", "fma"], "off"), (None, "off")],
)
def test_auto_on_a_cpu_follows_its_bf16_units(monkeypatch, flags, want):
    monkeypatch.setattr(device_module, "cpu_flags", lambda: flags)
    assert resolve_autocast("auto", "cpu") == want


def test_auto_on_cuda_asks_torch_and_elsewhere_is_off(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_autocast("auto", "cuda:1") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_autocast("auto", "cuda") == "off"
    assert resolve_autocast("auto", "mps") == "off"


def test_a_config_error_names_the_key():
    with pytest.raises(UserError, match="demo.yaml: autocast: Input should be"):
        config_from_dict({"autocast": "fp8"}, "demo.yaml")
    assert run_placement(config_from_dict({"autocast": "bf16", "device": "cpu"}, "x")) == {
        "device": "cpu",
        "dtype": "float32",
        "autocast": "bf16",
        "compile": "off",
    }


def test_the_policy_is_in_a_stage_key_only_when_on():
    def fn(ctx):
        return 1

    off = RunContext("/tmp/x", 0, code="c")
    assert off.key("s", fn, ()) == RunContext("/tmp/x", 0, code="c", autocast="off").key("s", fn, ())
    assert off.key("s", fn, ()) != RunContext("/tmp/x", 0, code="c", autocast="bf16").key("s", fn, ())
    assert RunContext("/tmp/x", 0, code="c", autocast="bf16").key("s", fn, ()) != RunContext(
        "/tmp/x", 0, code="c", autocast="bf16-wide"
    ).key("s", fn, ())


def test_use_models_sets_the_policy(policy):
    RunContext("/tmp/x", 0, code="c", autocast="bf16-wide").use_models()
    assert autocast_policy() == "bf16-wide"
    RunContext("/tmp/x", 0, code="c").use_models()
    assert autocast_policy() == "off"


def _enabled(model) -> bool:
    with training_autocast(model):
        return torch.is_autocast_enabled("cpu")


def test_where_each_policy_applies(policy):
    tok = build_char_tokenizer()
    small, micro = build_model("llama", "small", tok, 0), build_model("gpt2", "micro", tok, 0)
    assert (model_width(small), model_width(micro)) == (128, 64)
    policy("off")
    assert not _enabled(small) and not _enabled(micro)
    policy("bf16")
    assert _enabled(small) and _enabled(micro)
    policy("bf16-wide")  # a CPU's auto: only models wide enough to gain
    assert _enabled(small) and not _enabled(micro)
    wrapper = torch.nn.Sequential(torch.nn.Linear(2, 2), small)  # a verifier: the backbone's width counts
    assert model_width(wrapper) == 128 and _enabled(wrapper)


def _train(steps: int = 6) -> list[float]:
    world = ArithmeticConfig(min_steps=2, max_steps=3)
    data = [[(p.prompt, p.solution) for p in generate(derive_seed(0, "t", i), 16, world)] for i in range(steps)]
    tok = build_char_tokenizer()
    model = build_model("llama", "micro", tok, 0)
    state = train_lm(model, tok, lambda i: data[i], TrainConfig(steps=steps, warmup_steps=1, lr=3e-3))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32
    return [h["loss"] for h in state["history"] if "loss" in h] + [state["running"]]


def test_bf16_trains_in_bf16_and_off_trains_as_before(policy):
    torch.manual_seed(0)
    fp32 = _train()
    policy("off")
    assert _train() == fp32  # off is exactly the float32 loop
    policy("bf16")
    bf16 = _train()
    assert bf16 != fp32  # the products really ran in bf16 (a no-op autocast would fail here)
    assert bf16 == pytest.approx(fp32, rel=0.05)  # and it still learns the same thing


def _classifier_history(steps: int = 8) -> list[float]:
    from autoalign.methods.base import Text
    from autoalign.overseers.lm_classifier import Classifier, train_classifier
    from autoalign.worlds.chain_format import step_spans

    tok = build_char_tokenizer()
    items = [
        Text(p.prompt + p.solution, p.prompt, p.solution, tuple(step_spans(p.solution)))
        for p in generate(3, 64, ArithmeticConfig(min_steps=2, max_steps=4))
    ]
    spans = {t.body: list(t.spans) for t in items}
    clf = Classifier(build_model("llama", "micro", tok, 0), seed=0)
    soft = [0.8 if i % 3 else 0.2 for i in range(len(items))]
    kwargs = dict(n_steps=steps, batch_size=16, lr=1e-3, head_lr=1e-2, seed=0)
    return train_classifier(clf, tok, items, soft, lambda body: spans.get(body, []), **kwargs) + [
        float(p.detach().double().sum()) for p in clf.parameters()
    ]


def test_classifier_training_follows_the_policy(policy):
    """Weak-to-strong students train through train_classifier: bf16 reaches it, off leaves it as it was."""
    fp32 = _classifier_history()
    policy("off")
    assert _classifier_history() == fp32
    policy("bf16")
    assert _classifier_history() != fp32


def test_the_default_leaves_registered_digests_alone():
    """A key added after registrations existed must not move their science digests at its default."""
    import json
    from pathlib import Path

    from autoalign import preregistration
    from autoalign.config_io import read_yaml_mapping

    root = Path(__file__).resolve().parents[1]
    registered = json.loads((root / "preregistered" / "best_of_n.json").read_text())
    mapping = read_yaml_mapping(root / registered["config_file"])
    cfg = config_from_dict(mapping, "best_of_n.yaml")
    assert preregistration.science_digest(cfg) == registered["science_digest"]
    on = config_from_dict({**mapping, "autocast": "auto"}, "best_of_n.yaml")
    assert preregistration.science_digest(on) != registered["science_digest"]


def test_a_bare_yaml_off_is_off(tmp_path):
    """YAML reads ``autocast: off`` (and ``--set autocast=off``) as false: it means off, not an error."""
    from autoalign.config_io import read_yaml_mapping

    path = tmp_path / "c.yaml"
    path.write_text("autocast: off\n")
    assert config_from_dict(read_yaml_mapping(path), str(path)).autocast == "off"
    with pytest.raises(UserError, match="autocast"):
        config_from_dict({"autocast": True}, "c.yaml")
