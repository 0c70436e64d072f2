"""Model addresses, providers and devices: what resolves to what, and one-line errors for the rest."""

from __future__ import annotations

import pytest
import torch

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.models import build_char_tokenizer, build_model
from autoalign.models.device import resolve_device
from autoalign.models.handle import LocalModel, render_plain
from autoalign.models.providers import Address, open_model, parse_address


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    f = tmp_path_factory.mktemp("m") / "micro"
    tok = build_char_tokenizer()
    build_model("llama", "micro", tok, seed=0).save_pretrained(f)
    tok.save_pretrained(f)
    return f


def test_addresses_parse(folder):
    assert parse_address("lab/small") == Address("lab", "small")
    assert parse_address("lab/small").lab_size == "small"
    assert parse_address(f"hf/{folder}") == Address("hf", str(folder))
    assert parse_address(str(folder)) == Address("hf", str(folder))  # a bare folder is an hf checkpoint
    assert parse_address("openai/qwen2.5-7b").lab_size is None


@pytest.mark.parametrize("text, expected", [
    ("nope/model", "unknown model provider 'nope'"),
    ("hf/", "names no model"),
    ("", "expected a model address"),
    ("./does-not-exist", "neither a model address"),
])
def test_bad_addresses_are_one_line(text, expected):
    with pytest.raises(UserError, match=expected) as e:
        parse_address(text, "generator.model")
    assert "\n" not in str(e.value) and str(e.value).startswith("generator.model")


def test_local_model_and_white_box_errors(folder, monkeypatch):
    m = open_model(f"hf/{folder}")
    assert isinstance(m, LocalModel) and m.white_box("a PRM") is m
    assert m.device == torch.device("cpu")
    out = m.generate(["1+2="] * 3, temperature=0.0, max_new_tokens=5)
    assert len(set(out)) == 1  # greedy: the same prompt gives the same text
    lp = m.completion_logprobs(["1+2=", "1+2="], ["3", "33"])
    assert lp[0] > lp[1]  # one more token of a near-uniform model is less likely
    with pytest.raises(UserError, match="size that a protocol trains"):
        open_model("lab/small")
    with pytest.raises(UserError, match="no such folder"):
        open_model("hf/./nowhere")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    remote = open_model("openai/some-model")
    with pytest.raises(UserError, match="needs a white-box model") as e:
        remote.white_box("best-of-N's PRM")
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="cannot reach the server"):
        remote.generate(["1+2="], max_new_tokens=2)


def test_openai_without_a_server_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    from autoalign.models import remote

    monkeypatch.setitem(remote.settings, "base_url", None)
    with pytest.raises(UserError, match="OPENAI_BASE_URL"):
        open_model("openai/x")


def test_chat_without_a_template_is_plain_lines():
    assert render_plain([{"role": "user", "content": "hi"}]) == "user: hi\nassistant:"


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(UserError, match="device"):
        load_config(None, ["device=tpu"])
    assert load_config(None, ["device=cpu", "dtype=bfloat16"]).dtype == "bfloat16"


def test_a_black_box_generator_needs_a_backbone_for_best_of_n(tmp_path, monkeypatch):
    from autoalign.runtime.runner import execute, open_run

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    cfg = load_config("configs/best_of_n.yaml", ["generator.model=openai/x", "best_of_n.worlds=[arithmetic]"])
    store, _ = open_run(cfg, tmp_path / "run")
    with pytest.raises(UserError, match="best_of_n.backbone"):
        execute(store, cfg)
