"""Model addresses, providers and devices: what resolves to what, and one-line errors for the rest."""

from __future__ import annotations

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field

from autoalign.config import load_config
from autoalign.errors import UserError
from autoalign.models import build_char_tokenizer, build_model
from autoalign.models.device import resolve_device
from autoalign.models.handle import LanguageModel, LocalModel, render_plain
from autoalign.models.providers import Address, open_model, parse_address, size_or_address
from autoalign.runtime import placement
from autoalign.runtime.context import RunContext


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


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nope/model", "unknown model provider 'nope'"),
        ("hf/", "names no model"),
        ("", "expected a model address"),
        ("./does-not-exist", "neither a model address"),
    ],
)
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
    monkeypatch.setitem(placement._state, "providers", {})
    with pytest.raises(UserError, match="providers.openai.base_url") as e:
        open_model("openai/x")
    assert "OPENAI_BASE_URL" in str(e.value)


def test_openai_reads_its_server_from_its_settings_section(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/env")
    monkeypatch.setitem(placement._state, "providers", {})
    assert open_model("openai/x").url == "http://127.0.0.1:9/env"  # the environment, when the config says nothing
    cfg = load_config(None, ["providers.openai.base_url=http://127.0.0.1:9/v1", "providers.openai.timeout=5"])
    assert cfg.model_dump(mode="json")["providers"] == {"openai": {"base_url": "http://127.0.0.1:9/v1", "timeout": 5.0}}
    RunContext("unused", 0, providers=cfg.model_dump(mode="json")["providers"]).use_models()  # what a run does
    try:
        assert open_model("openai/x").url == "http://127.0.0.1:9/v1"  # the config's section wins
    finally:
        placement.set_provider_settings({})
    with pytest.raises(UserError, match=r"providers\.openai\.base_urll: unknown key"):
        load_config(None, ["providers.openai.base_urll=http://x"])
    with pytest.raises(UserError, match="unknown model provider 'nope'"):
        load_config(None, ["providers.nope.base_url=http://x"])
    with pytest.raises(UserError, match="provider 'hf' takes no settings"):
        load_config(None, ["providers.hf.folder=x"])


class EchoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = Field("echo:", min_length=1)


class Echo(LanguageModel):
    def __init__(self, name: str, prefix: str):
        self.address, self.prefix = f"echo/{name}", prefix

    def generate(
        self, prompts, temperature=1.0, max_new_tokens=64, seed=0, batch_size=256, description="", tokens_out=None
    ):
        return [self.prefix + p for p in prompts]


def test_a_registered_provider_is_found_on_every_path(monkeypatch, tmp_path):
    """A provider a plugin registers (``provider(name, settings=...)``) resolves like a built-in: by
    ``in``, in addresses and ``sizes`` entries, in ``open_model`` with the run's settings, in the
    config's ``providers`` section, and in ``autoalign serve``'s plan (which then wants weights)."""
    from autoalign.registry import providers
    from autoalign.serve.resolve import plan, resolve_models

    def open_echo(name: str, settings: EchoSettings) -> LanguageModel:
        return Echo(name, settings.prefix)

    open_echo.Settings = EchoSettings  # what ``provider("echo", settings=EchoSettings)`` sets
    monkeypatch.setitem(providers._items, "echo", open_echo)  # removed again after the test
    monkeypatch.setitem(placement._state, "providers", {})
    assert "echo" in providers and "echo" in providers.names()
    assert parse_address("echo/tiny-1", "generator.model") == Address("echo", "tiny-1")
    assert size_or_address("echo/tiny-1", "gdc.sizes") == Address("echo", "tiny-1")
    assert size_or_address("small", "gdc.sizes").lab_size == "small"
    assert open_model("echo/a").generate(["x"]) == ["echo:x"]  # the settings' defaults
    cfg = load_config(None, ["providers.echo.prefix=>>"])
    placement.set_provider_settings(cfg.model_dump(mode="json")["providers"])
    try:
        assert open_model("echo/a").generate(["x"]) == [">>x"]
    finally:
        placement.set_provider_settings({})
    with pytest.raises(UserError, match=r"providers\.echo\.prefx: unknown key"):
        load_config(None, ["providers.echo.prefx=>>"])
    with pytest.raises(UserError, match=r"providers\.echo\.prefix: String should have at least 1 character"):
        load_config(None, ["providers.echo.prefix="])
    assert plan("echo/a") == {"a": "echo/a"}
    with pytest.raises(UserError, match="serve: echo/a is not a local model"):
        resolve_models("echo/a")


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
    from autoalign.orchestration import execute, open_run

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    cfg = load_config("configs/best_of_n.yaml", ["generator.model=openai/x", "best_of_n.worlds=[arithmetic]"])
    store, _ = open_run(cfg, tmp_path / "run")
    with pytest.raises(UserError, match="best_of_n.backbone"):
        execute(store, cfg)
