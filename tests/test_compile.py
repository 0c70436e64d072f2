"""``compile: on`` (models/device.py): the key it enters, and that training steps really run compiled, learn what
eager steps learn to float order, and leave the eager model behind for everything else."""

from __future__ import annotations

import random

import pytest
import torch
from torch._dynamo.utils import counters

from autoalign.config import config_from_dict
from autoalign.errors import UserError
from autoalign.models import TrainConfig, build_char_tokenizer, build_model, train_lm
from autoalign.models import device as device_module
from autoalign.models.device import TrainingStep, run_placement
from autoalign.runtime.context import RunContext
from autoalign.runtime.placement import compile_policy, set_placement
from autoalign.seeding import derive_seed
from autoalign.worlds import ArithmeticConfig, example_from_solution, generate
from autoalign.worlds.tampering import tamper_result

WORLD = ArithmeticConfig(min_steps=2, max_steps=3)


@pytest.fixture
def compiled():
    """Set this process's compile policy for one test, then back to off."""
    yield lambda name: set_placement("cpu", "float32", "off", name)
    set_placement("cpu", "float32", "off", "off")


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


def test_the_config_key_reads_yaml_and_names_bad_values(tmp_path):
    from autoalign.config_io import read_yaml_mapping

    path = tmp_path / "c.yaml"
    path.write_text("compile: on\n")  # YAML 1.1 reads a bare on as true
    assert config_from_dict(read_yaml_mapping(path), str(path)).compile == "on"
    assert config_from_dict({"compile": False}, "c.yaml").compile == "off"
    with pytest.raises(UserError, match="c.yaml: compile: Input should be"):
        config_from_dict({"compile": "max-autotune"}, "c.yaml")
    assert run_placement(config_from_dict({"compile": "on", "device": "cpu"}, "x"))["compile"] == "on"


def test_the_policy_is_in_a_stage_key_only_when_on(compiled):
    def fn():
        return None

    off = RunContext("/tmp/x", 0, code="c")
    assert off.key("s", fn, ()) == RunContext("/tmp/x", 0, code="c", compile="off").key("s", fn, ())
    assert off.key("s", fn, ()) != RunContext("/tmp/x", 0, code="c", compile="on").key("s", fn, ())
    RunContext("/tmp/x", 0, code="c", compile="on").use_models()
    assert compile_policy() == "on"


def _train(steps: int = 4, size: str = "tiny"):
    data = [[(p.prompt, p.solution) for p in generate(derive_seed(0, "c", i), 16, WORLD)] for i in range(steps)]
    tok = build_char_tokenizer()
    model = build_model("llama", size, tok, 0)
    state = train_lm(model, tok, lambda i: data[i], TrainConfig(steps=steps, warmup_steps=1, lr=3e-3))
    return model, state


def test_language_model_steps_run_compiled_reproduce_and_learn_what_eager_steps_learn(compiled):
    """Compiled steps must reproduce: inductor's CPU kernels add some gradients with atomics, so the loop runs
    deterministic algorithms (without them the two compiled trainings below differed)."""
    eager, _ = _train()
    before = _graphs()
    _train()
    assert _graphs() == before  # off compiles nothing
    compiled("on")
    model, state = _train()
    assert _graphs() > before  # the steps really ran through dynamo (a no-op option would fail here)
    assert "forward" not in model.__dict__  # the eager forward is back for sampling and scoring
    assert not torch.are_deterministic_algorithms_enabled()  # the loop's settings are undone after it
    assert torch.utils.deterministic.fill_uninitialized_memory
    assert state["step"] == 4
    again, _ = _train()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    moved = [(a - b).abs().max().item() for a, b in zip(model.state_dict().values(), eager.state_dict().values())]
    assert 0 < max(moved) < 1e-4  # other kernels (so other float order), the same arithmetic


def test_verifier_steps_run_compiled(compiled):
    from autoalign.overseers import StepVerifier, train_verifier

    tok, rng = build_char_tokenizer(), random.Random(0)
    examples = []
    for p in generate(3, 8, WORLD):
        examples.append(example_from_solution(p, p.solution).labelled())
        examples.append(example_from_solution(p, tamper_result(p, rng).text).labelled())
    compiled("on")
    before = _graphs()
    v = StepVerifier(build_model("llama", "micro", tok, 0), "prm", "loglik")
    history = train_verifier(v, tok, examples, steps=10, batch_size=8, lr=1e-3, head_lr=1e-2)
    assert _graphs() > before and len(history) == 1 and history[0] == history[0]
    assert "forward" not in v.lm.__dict__


def test_a_compiler_failure_is_a_one_line_error(compiled, monkeypatch):
    """No C++ compiler on a CPU (say): the user is told to set compile: off, with no traceback."""
    from torch._inductor.exc import InductorError

    compiled("on")
    model = build_model("llama", "micro", build_char_tokenizer(), 0)

    def fails(*args, **kwargs):
        raise InductorError(RuntimeError("no working C++ compiler found"), None)

    monkeypatch.setattr(device_module.torch, "compile", lambda fn, dynamic: fails)
    with pytest.raises(UserError, match="compile: on, but torch.compile failed .*set compile: off"):
        with TrainingStep(model) as in_step, in_step():
            model(input_ids=torch.ones(1, 4, dtype=torch.long))
    assert "forward" not in model.__dict__
    assert not torch.are_deterministic_algorithms_enabled()  # the loop's setting is undone
    with pytest.raises(UserError, match="set compile: off"):  # the backward pass compiles outside a step
        with TrainingStep(model):
            raise InductorError(RuntimeError("no working C++ compiler found"), None)


def test_classifier_and_frozen_verifier_steps_run_compiled(compiled, monkeypatch):
    """Weak-to-strong students (train_classifier) compile too; a frozen backbone (no gradients into it) compiles
    and stays as it was while its head learns. Dynamo reuses the code it compiled for an earlier model of the same
    kind (no new graph), so the steps are counted through ``torch.compile``'s result."""
    from autoalign.methods.base import Text
    from autoalign.overseers import StepVerifier, train_verifier
    from autoalign.overseers.lm_classifier import Classifier, train_classifier
    from autoalign.worlds.chain_format import step_spans

    tok = build_char_tokenizer()
    items = [
        Text(p.prompt + p.solution, p.prompt, p.solution, tuple(step_spans(p.solution))) for p in generate(3, 32, WORLD)
    ]
    spans = {t.body: list(t.spans) for t in items}
    soft = [0.8 if i % 3 else 0.2 for i in range(len(items))]

    def student():
        clf = Classifier(build_model("llama", "micro", tok, 0), seed=0)
        train_classifier(
            clf, tok, items, soft, lambda b: spans.get(b, []), n_steps=4, batch_size=8, lr=1e-3, head_lr=1e-2, seed=0
        )
        return clf

    eager = student()
    calls, compile_fn = [], torch.compile

    def counted(fn, **kwargs):
        run = compile_fn(fn, **kwargs)
        return lambda *a, **k: calls.append(1) or run(*a, **k)

    monkeypatch.setattr(device_module.torch, "compile", counted)
    compiled("on")
    clf = student()
    assert len(calls) == 4 and "forward" not in clf.lm.__dict__
    moved = [(a - b).abs().max().item() for a, b in zip(clf.state_dict().values(), eager.state_dict().values())]
    assert 0 < max(moved) < 1e-4

    rng, examples = random.Random(0), []
    for p in generate(4, 8, WORLD):
        examples.append(example_from_solution(p, p.solution).labelled())
        examples.append(example_from_solution(p, tamper_result(p, rng).text).labelled())
    v = StepVerifier(build_model("llama", "micro", tok, 0), "prm", "linear", frozen=True)
    backbone = {k: t.clone() for k, t in v.lm.state_dict().items()}
    head = v.linear.weight.detach().clone()
    train_verifier(v, tok, examples, steps=6, batch_size=8, lr=1e-3, head_lr=1e-2)
    assert len(calls) == 4 + 6 and "forward" not in v.lm.__dict__
    assert all(torch.equal(t, v.lm.state_dict()[k]) for k, t in backbone.items())
    assert not torch.equal(head, v.linear.weight)
