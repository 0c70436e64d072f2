"""Every loader of user input turns junk into one line naming the file: random bytes, binary files,
UTF-16, truncated files, directories, wrong types, alias bombs and broken ``--set`` values never end
in a traceback or a hang. Nothing here trains a model.

The loaders owned by ``config_io``/``jsonl_io``/``stepwise`` are imported at the top; ``load_config``
and ``load_run_config`` are imported inside the tests that use them, so a problem there does not
stop the rest of this file from running."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoalign.config_io import MAX_EXPANDED_NODES, apply_overrides, read_yaml_mapping
from autoalign.errors import UserError
from autoalign.jsonl_io import read_json_file, read_jsonl_file, read_jsonl_lines
from autoalign.worlds.stepwise import read_stepwise_jsonl

ROOT = Path(__file__).resolve().parents[1]
VALID_CONFIG = (ROOT / "configs" / "best_of_n.yaml").read_bytes()
VALID_JSONL = (
    b'{"prompt": "7+5=", "completions": ["7+5=12", "#12"], "labels": [true, true]}\n'
    b'{"prompt": "2*3=", "completions": ["2*3=7", "#7"], "labels": [false, false]}\n'
)
VALID_JSON = b'{"best_of_n": {"accuracy": [0.5, 0.75], "n": 4, "name": "x"}, "ok": true}\n'
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Characters that steer YAML's and JSON's parsers into their corners: flow and block collections,
# anchors, aliases, tags, merges, quotes, escapes, documents, comments, tabs, NUL, a BOM.
SYNTAX = st.text(alphabet=st.sampled_from(list("ab1.-+eE:[]{},&*!<|>'\"\\#?%@`~\n\t\r\x00\ufeff\x85 ")), max_size=120)


def assert_one_line_naming(err: UserError, name: str) -> None:
    msg = str(err)
    assert msg.splitlines() == [msg] and name in msg, msg


def load_config_file(path):
    from autoalign.config import load_config

    return load_config(path)


LOADERS = [read_yaml_mapping, read_stepwise_jsonl, read_jsonl_file, read_json_file, load_config_file]


def only_user_errors(loader, path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        loader(path)
    except UserError as e:
        assert_one_line_naming(e, str(path.parent))


# --- fuzzing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(tmp_path, loader, data):
    only_user_errors(loader, tmp_path / "input.yaml", data)


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(text=SYNTAX)
def test_random_syntax(tmp_path, loader, text):
    only_user_errors(loader, tmp_path / "input.yaml", text.encode("utf-8"))


@pytest.mark.parametrize("loader", LOADERS)
@FUZZ
@given(
    cut=st.integers(0, 10_000),
    which=st.sampled_from([VALID_CONFIG, VALID_JSONL, VALID_JSON]),
    junk=st.sampled_from([b"", b"\xff", b"\x00", b"\xe2\x82", b"\n\n", b"{"]),
)
def test_truncated_files(tmp_path, loader, cut, which, junk):
    """Prefixes of valid files, cut anywhere (mid-character too), sometimes with junk at the end."""
    only_user_errors(loader, tmp_path / "input.yaml", which[: cut % (len(which) + 1)] + junk)


@FUZZ
@given(
    text=st.one_of(st.text(max_size=60), st.text(alphabet=st.sampled_from(list("ab.= \n\t[]{}&*:!\x00")), max_size=40))
)
def test_random_overrides(text):
    try:
        apply_overrides({"seed": 0, "lst": [1], "generator": {"size": "tiny"}}, [text])
    except UserError as e:
        assert str(e).splitlines() == [str(e)] and str(e).startswith("--set")


@FUZZ
@given(text=st.text(max_size=60))
def test_random_overrides_through_the_config(text):
    from autoalign.config import config_from_dict

    try:
        config_from_dict(apply_overrides({}, [text]), "config (with --set)")
    except UserError as e:
        assert str(e).splitlines() == [str(e)]


# --- regressions: configs -----------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 12) -> str:
    lines = ["m0: &m0 {k0: 1, k1: 2, k2: 3}"]
    for i in range(1, levels + 1):
        lines.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 9) + f"], x{i}: 1}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "content, expect",
    [
        (bytes(range(256)) * 4, "c.yaml:2: not UTF-8 text (byte 0x80)"),
        (b"\x00\x01\x02binary\xff\xfe", "not UTF-8 text"),
        ("seed: 1\n".encode("utf-16"), "c.yaml:1: not UTF-8 text (UTF-16"),
        ("seed: 1\n".encode("utf-16-be"), "invalid YAML"),  # no BOM: NUL bytes, which YAML refuses
        (b"seed: 1\nname: caf\xe9\n", "c.yaml:2: not UTF-8 text (byte 0xe9)"),
        (b"seed: 1\nseed\x00: 2\n", "c.yaml:2: invalid YAML: unacceptable character #x0000"),
        (b"seed: [" * 3000, "invalid YAML"),
        (("a: " + "{b: " * 300 + "1" + "}" * 300 + "\n").encode(), "invalid YAML"),
        (b"1: 2\n", "1: keys must be names"),
        (b"generator: {3: 4}\n", "generator.3: keys must be names"),
        (b"generator: {? [1, 2] : 4}\n", "invalid YAML"),  # a list as a key cannot be built
        (b"- a\n- b\n", "must be a mapping"),
        (b"just text\n", "must be a mapping"),
        (b"a: 1\n---\nb: 2\n", "c.yaml:2: invalid YAML"),
        (b"a:\n\tb: 1\n", "c.yaml:2: invalid YAML"),
        (b"seed: !!python/object:os.system x\n", "invalid YAML"),
        (b"seed: !!int nope\n", "invalid YAML"),
        (b"seed: !!timestamp 2001-13-45\n", "invalid YAML"),
        (b"seed: " + b"9" * 5000 + b"\n", "invalid YAML"),
        (b"a: {<<: 3}\n", "invalid YAML"),
        (b"a: *nowhere\n", "invalid YAML"),
        (b"a: &a [*a]\n", "recursive alias"),
        (b"a: &a {b: *a}\n", "recursive alias"),
        (_bomb().encode(), "alias bomb"),
        (_merge_bomb().encode(), "alias bomb"),
    ],
)
def test_bad_config_files(tmp_path, content, expect):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    start = time.monotonic()
    with pytest.raises(UserError) as e:
        read_yaml_mapping(path)
    assert time.monotonic() - start < 2
    assert expect in str(e.value), str(e.value)
    assert_one_line_naming(e.value, str(path))


def test_bad_config_through_load_config(tmp_path):
    from autoalign.config import load_config

    path = tmp_path / "c.yaml"
    path.write_bytes(_bomb().encode())
    with pytest.raises(UserError, match="alias bomb"):
        load_config(path)
    path.write_bytes(b"seed: 2001-01-01\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    assert_one_line_naming(e.value, str(path))


def test_good_configs_still_load(tmp_path):
    assert read_yaml_mapping(ROOT / "configs" / "best_of_n.yaml")
    path = tmp_path / "c.yaml"
    path.write_bytes(b"")
    assert read_yaml_mapping(path) == {}
    path.write_bytes(b"# only a comment\n")
    assert read_yaml_mapping(path) == {}
    path.write_bytes("\ufeffseed: 1\r\n".encode())  # a UTF-8 BOM and Windows line ends are fine
    assert read_yaml_mapping(path) == {"seed": 1}
    # A few aliases and a merge are fine, and each alias is a copy of its own: --set on one
    # leaves the other alone.
    path.write_bytes(b"base: &b {lr: 1, size: tiny}\ngenerator:\n  <<: *b\n  lr: 2\nx: &l [1, 2]\ny: *l\nz: *b\n")
    data = read_yaml_mapping(path)
    assert data["generator"] == {"lr": 2, "size": "tiny"} and data["y"] == [1, 2]
    apply_overrides(data, ["z.lr=5"])
    data["y"].append(3)
    assert data["base"]["lr"] == 1 and data["x"] == [1, 2]
    # Aliases of a long list are no bomb while the whole stays under the limit.
    n = MAX_EXPANDED_NODES // 10
    path.write_text("xs: &x [" + ", ".join(["1"] * n) + "]\nys: *x\nzs: *x\n")
    assert len(read_yaml_mapping(path)["zs"]) == n


def test_directory_missing_and_odd_paths(tmp_path):
    weird = tmp_path / "new\nline.yaml"
    for loader in (read_yaml_mapping, read_stepwise_jsonl, read_jsonl_file, read_json_file):
        for path in (tmp_path, tmp_path / "missing", weird):
            with pytest.raises(UserError, match="cannot read") as e:
                loader(path)
            assert str(e.value).splitlines() == [str(e.value)]
        with pytest.raises(UserError, match="cannot read"):
            loader(str(tmp_path / "nul\x00byte"))


def test_too_large_config(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(UserError, match="huge.yaml: cannot read config: larger than"):
        read_yaml_mapping(path)


def test_run_folder_config(tmp_path):
    from autoalign.orchestration import load_run_config

    (tmp_path / "config.yaml").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UserError) as e:
        load_run_config(tmp_path)
    assert_one_line_naming(e.value, str(tmp_path / "config.yaml"))
    (tmp_path / "config.yaml").unlink()
    (tmp_path / "config.yaml").mkdir()
    with pytest.raises(UserError) as e:
        load_run_config(tmp_path)
    assert_one_line_naming(e.value, str(tmp_path / "config.yaml"))


def test_binary_config_file_names_the_file_in_load_config(tmp_path):
    from autoalign.config import load_config

    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UserError) as e:
        load_config(path)
    assert_one_line_naming(e.value, str(path))


# --- regressions: JSON and JSONL ----------------------------------------------------------------


def test_stepwise_regressions(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text("")
    with pytest.raises(UserError, match=rf"^{path}: no examples found$"):
        read_stepwise_jsonl(path)
    path.write_text("\n  \n\t\n")
    with pytest.raises(UserError, match="no examples found"):
        read_stepwise_jsonl(path)
    path.write_bytes(VALID_JSONL + b'{"prompt": "\xff"}\n')
    with pytest.raises(UserError, match=rf"^{path}:3: not UTF-8"):
        read_stepwise_jsonl(path)
    path.write_bytes(VALID_JSONL[:-20])  # a truncated last line
    with pytest.raises(UserError, match=rf"^{path}:2: invalid JSON"):
        read_stepwise_jsonl(path)
    path.write_bytes(VALID_JSONL[:-2])  # cut inside the last line's closing bracket
    with pytest.raises(UserError, match=rf"^{path}:2: invalid JSON"):
        read_stepwise_jsonl(path)
    path.write_bytes("\u00a0\n".encode() + VALID_JSONL + b"[1]\n")  # a Unicode-blank line counts as a line
    with pytest.raises(UserError, match=rf"^{path}:4: expected a JSON object"):
        read_stepwise_jsonl(path)
    path.write_bytes(VALID_JSONL.decode().encode("utf-16"))
    with pytest.raises(UserError, match=rf"^{path}:1: not UTF-8 text \(UTF-16"):
        read_stepwise_jsonl(path)
    path.write_bytes(b'{"prompt": 1' + b"1" * 5000 + b', "completions": [], "labels": []}\n')
    with pytest.raises(UserError, match=rf"^{path}:1: invalid JSON"):
        read_stepwise_jsonl(path)
    path.write_bytes(b"[" * 100_000 + b"\n")
    with pytest.raises(UserError, match=rf"^{path}:1: invalid JSON"):
        read_stepwise_jsonl(path)
    path.write_bytes(b"\xef\xbb\xbf" + VALID_JSONL.replace(b"\n", b"\r\n"))  # BOM and CRLF are fine
    assert [e.labels for e in read_stepwise_jsonl(path)] == [[True, True], [False, False]]


@pytest.mark.parametrize(
    "content, expect",
    [
        (b"", "bad.json: invalid JSON: the file is empty"),
        (b'{"a": ', "bad.json:1: invalid JSON"),
        (b'{"a": 1,\n "b": }', "bad.json:2: invalid JSON"),
        (b'{"a": "\xff"}', "bad.json:1: not UTF-8 text"),
        ('{"a": 1}'.encode("utf-16"), "bad.json:1: not UTF-8 text (UTF-16"),
        (b"1" * 5000, "bad.json: invalid JSON"),
        (b"[" * 100_000, "bad.json: invalid JSON"),
        (b"\x00", "bad.json:1: invalid JSON"),
    ],
)
def test_bad_json_files(tmp_path, content, expect):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UserError) as e:
        read_json_file(path)
    assert expect in str(e.value), str(e.value)
    assert_one_line_naming(e.value, str(path))


def test_json_and_jsonl_happy_paths(tmp_path):
    path = tmp_path / "ok.json"
    path.write_bytes(b"\xef\xbb\xbf" + VALID_JSON)
    assert read_json_file(path)["ok"] is True
    path = tmp_path / "ok.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n')
    assert read_jsonl_file(path) == [{"a": 1}, {"b": 2}]
    assert read_jsonl_lines(path) == [(1, {"a": 1}), (3, {"b": 2})]
    path.write_bytes(b'{"a": 1}\n"text"\n')
    with pytest.raises(UserError, match=rf"^{path}:2: expected a JSON object, not a string$"):
        read_jsonl_file(path)


# --- regressions: --set -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item, expect",
    [
        ("a..b=1", "empty part"),
        ("=1", "expected key.path=value"),
        ("a.=1", "empty part"),
        (".a=1", "empty part"),
        (".=1", "empty part"),
        ("nonsense", "expected key.path=value"),
        ("", "expected key.path=value"),
        ("seed.x=1", "seed is a value, not a section"),
        ("lst.0=5", "lst is a list, not a section"),
        ("a\n..b=1", "empty part"),
        ("x=" + _bomb().replace("\n", ", ").join("{}"), "alias bomb"),
        ("x=&a [*a]", "recursive alias"),
    ],
)
def test_bad_set_items(item, expect):
    with pytest.raises(UserError, match=expect) as e:
        apply_overrides({"seed": 0, "lst": [1]}, [item])
    assert str(e.value).splitlines() == [str(e.value)]


def test_set_values_and_wrong_types():
    data = apply_overrides({"seed": 0}, ["a.b=1", "a.c=[0, 1]", "s=not: valid: yaml", "e=", "n=null", " k . j = 2"])
    assert data == {"seed": 0, "a": {"b": 1, "c": [0, 1]}, "s": "not: valid: yaml", "e": "", "n": None, "k": {"j": 2}}
    assert apply_overrides({}, ["x=" + "9" * 5000])["x"] == "9" * 5000  # not buildable: taken as text
    for overrides in ("a=1", None, 3):
        with pytest.raises(UserError, match="expected a list"):
            apply_overrides({}, overrides)
    for item in (None, 3, b"a=1"):
        with pytest.raises(UserError, match="expected key.path=value"):
            apply_overrides({}, [item])
    with pytest.raises(UserError, match="must be a mapping"):
        apply_overrides([], ["a=1"])


# --- end to end ---------------------------------------------------------------------------------


def test_corrupt_run_folder_is_one_line(tmp_path):
    from autoalign.runtime.store import RunStore

    (tmp_path / "config.yaml").write_text("protocol: debate_facts\n")
    (tmp_path / "metrics.json").write_bytes(b'{"debate_facts": {"facts": ')
    with pytest.raises(UserError, match="metrics.json:1: invalid JSON"):
        _ = RunStore(tmp_path).metrics
    r = subprocess.run(
        [sys.executable, "-m", "autoalign", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_binary_config_on_the_command_line(tmp_path):
    """Loading the config fails before anything trains, so this is cheap."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    r = subprocess.run(
        [sys.executable, "-m", "autoalign", "run", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and "binary.yaml" in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
