"""Every loader of user input turns junk into one line naming the file: random bytes, binary files,
truncated files, wrong types and broken ``--set`` values never end in a traceback."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoalign.config import config_from_dict, load_config
from autoalign.config_io import apply_overrides, read_yaml_mapping
from autoalign.errors import UserError
from autoalign.jsonl_io import read_json_file, read_jsonl_file
from autoalign.runtime.runner import load_run_config
from autoalign.worlds.stepwise import read_stepwise_jsonl

VALID_CONFIG = open("configs/best_of_n.yaml", "rb").read()
VALID_JSONL = (b'{"prompt": "7+5=", "completions": ["7+5=12", "#12"], "labels": [true, true]}\n'
               b'{"prompt": "2*3=", "completions": ["2*3=7", "#7"], "labels": [false, false]}\n')
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line_naming(err: UserError, name: str) -> None:
    msg = str(err)
    assert "\n" not in msg and name in msg, msg


def _load_config_file(path):
    return load_config(path)


LOADERS = [_load_config_file, read_stepwise_jsonl, read_jsonl_file, read_json_file, load_run_config]


def _call(loader, path):
    if loader is load_run_config:
        (path.parent / "config.yaml").write_bytes(path.read_bytes())
        return loader(path.parent)
    return loader(path)


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(tmp_path, loader, data):
    path = tmp_path / "input.yaml"
    path.write_bytes(data)
    try:
        _call(loader, path)
    except UserError as e:
        _one_line_naming(e, str(tmp_path))


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(cut=st.integers(0, 10_000), which=st.sampled_from([VALID_CONFIG, VALID_JSONL]))
def test_truncated_files(tmp_path, loader, cut, which):
    path = tmp_path / "input.yaml"
    path.write_bytes(which[: cut % (len(which) + 1)])
    try:
        _call(loader, path)
    except UserError as e:
        _one_line_naming(e, str(tmp_path))


@FUZZ
@given(text=st.text(max_size=60))
def test_random_overrides(text):
    try:
        data = apply_overrides({}, [text])
        config_from_dict(data, "config (with --set)")
    except UserError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize("content, expect", [
    (b"\x00\x01\x02binary\xff\xfe", "not UTF-8 text"),
    ("seed: 1\n".encode("utf-16"), "not UTF-8 text"),
    (b"seed: [" * 3000, "invalid YAML"),
    (b"1: 2\n", "keys must be names"),
    (b"generator: {3: 4}\n", "generator.3: keys must be names"),
    (b"- a\n- b\n", "must be a mapping"),
    (b"seed: 1\nseed\x00: 2\n", "invalid YAML"),
])
def test_specific_bad_configs(tmp_path, content, expect):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(UserError) as e:
        load_config(path)
    assert expect in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_directory_and_missing_and_empty(tmp_path):
    for loader in (read_yaml_mapping, read_stepwise_jsonl, read_jsonl_file, read_json_file):
        with pytest.raises(UserError, match="cannot read"):
            loader(tmp_path)
        with pytest.raises(UserError, match="cannot read"):
            loader(tmp_path / "missing")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UserError, match="no examples"):
        read_stepwise_jsonl(tmp_path / "empty.jsonl")


def test_non_utf8_jsonl_names_the_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_bytes(VALID_JSONL + b'{"prompt": "\xff"}\n')
    with pytest.raises(UserError, match=rf"{path}:3: not UTF-8"):
        read_stepwise_jsonl(path)
    path.write_bytes(VALID_JSONL[:-20])  # a truncated last line
    with pytest.raises(UserError, match=rf"{path}:2: invalid JSON"):
        read_stepwise_jsonl(path)


@pytest.mark.parametrize("item, expect", [
    ("a..b=1", "empty part"), ("=1", "expected key.path=value"), ("a.=1", "empty part"), (".a=1", "empty part"),
    ("seed.x=1", "seed is not a section"),
])
def test_bad_set_keys(item, expect):
    with pytest.raises(UserError, match=expect):
        apply_overrides({"seed": 0}, [item])


def test_corrupt_run_folder_is_one_line(tmp_path):
    from autoalign.runtime.store import RunStore

    (tmp_path / "config.yaml").write_text("protocol: debate_facts\n")
    (tmp_path / "metrics.json").write_bytes(b'{"debate_facts": {"facts": ')
    with pytest.raises(UserError, match="metrics.json:1: invalid JSON"):
        RunStore(tmp_path).metrics
    r = subprocess.run([sys.executable, "-m", "autoalign", "report", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1


def test_binary_config_on_the_command_line(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    r = subprocess.run([sys.executable, "-m", "autoalign", "run", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "binary.yaml" in lines[0], r.stderr
