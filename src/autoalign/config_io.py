"""Reading what users write: YAML config files and ``--set key.path=value`` overrides.

Every failure is a ``UserError`` naming the file (and line, where it is known) or the override, so
the CLI prints one line; random bytes, binary junk, UTF-16, truncated files, directories, deep
nesting, keys that are not strings and alias bombs never end in a traceback or a hang
(``tests/test_fuzz_loaders.py`` fuzzes all of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

MAX_CONFIG_BYTES = 2**20  # a config is a few hundred bytes; this stops `run /dev/zero`
MAX_EXPANDED_NODES = 100_000  # YAML values after expanding aliases (a "billion laughs" is ~10^9)
MAX_DEPTH = 200  # nesting levels
_SHOW = 80  # characters of a user's text shown in a message


def one_line(text: object) -> str:
    """A message fragment on one line (YAML's and JSON's messages may span several)."""
    return " ".join(str(text).split())


def show(text: object, limit: int = _SHOW) -> str:
    """A user's text for a message: on one line, control characters escaped, cut to ``limit``."""
    s = str(text)
    s = s if s.isprintable() else repr(s)[1:-1]
    return s if len(s) <= limit else s[: limit - 3] + "..."


def file_name(path: object) -> str:
    """A path for a message: as it is, unless it holds control characters (a newline would break
    the one-line message), which are escaped."""
    s = str(path)
    return s if s.isprintable() else repr(s)[1:-1]


def decode_utf8(raw: bytes, where: str, first_line: int = 1) -> str:
    """Bytes as UTF-8 text, or a UserError naming the line of the first byte that is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if first_line == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise UserError(f"{where}:1: not UTF-8 text (UTF-16, by its byte order mark); save it as UTF-8") from None
        line = raw[: e.start].count(b"\n") + first_line
        raise UserError(f"{where}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None


def read_user_bytes(path: Path, what: str = "file", limit: int | None = None) -> bytes:
    """A file's bytes, or a UserError naming it (missing, a directory, unreadable, too large)."""
    try:
        with open(path, "rb") as f:
            raw = f.read() if limit is None else f.read(limit + 1)
    except OSError as e:
        reason = one_line(e.strerror or e)
        raise UserError(f"{file_name(path)}: cannot read {what}: {reason}") from None
    except ValueError as e:  # e.g. a NUL byte in the path
        raise UserError(f"{file_name(path)}: cannot read {what}: {one_line(e)}") from None
    if limit is not None and len(raw) > limit:
        raise UserError(f"{file_name(path)}: cannot read {what}: larger than {limit // 2**20} MiB")
    return raw


# --- YAML -----------------------------------------------------------------------------------------


class _UnsafeYaml(ValueError):
    """Valid YAML that must not be built: recursive aliases, an alias bomb, nesting too deep."""


def _check_node_graph(root: yaml.Node) -> None:
    """Measure a composed document before building it: the number of values it expands to once
    every alias is followed (aliases share nodes, so this is counted once per node), its depth,
    and whether an alias refers to a node that contains it. Iterative, so depth cannot overflow."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_EXPANDED_NODES:
                raise _UnsafeYaml(
                    f"aliases expand to over {MAX_EXPANDED_NODES:,} values (an alias bomb?)"
                    if size[key] > 2 * _count_distinct(root)
                    else f"more than {MAX_EXPANDED_NODES:,} values; too large for a config"
                )
            if depth[key] > MAX_DEPTH:
                raise _UnsafeYaml(f"nested more than {MAX_DEPTH} levels deep")
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in on_path:
                raise _UnsafeYaml("an alias refers to a value that contains it (recursive alias)")
            if id(c) not in size:
                stack.append((c, False))


def _count_distinct(root: yaml.Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in node.value for n in pair)
    return len(seen)


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that measures the document before building it. Raises ``yaml.YAMLError``
    for invalid YAML, ``_UnsafeYaml`` for documents that must not be built, and whatever the
    constructor raises for a value it cannot build (``ValueError`` for a 5000-digit int, ...)."""
    loader = yaml.SafeLoader(text)  # the pure-Python one: its messages name the character
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_node_graph(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _NonStringKey(Exception):
    def __init__(self, where: str):
        self.where = where


def _unshared(node: Any, where: str = "") -> Any:
    """A copy in which no dict or list is shared (an alias gives a shared object, and a ``--set``
    on one would change the other), checking that every mapping key is a string. The document was
    measured first, so this is bounded: no cycles, at most MAX_DEPTH levels and MAX_EXPANDED_NODES
    values."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if not isinstance(k, str):
                raise _NonStringKey(f"{where}{show(repr(k))}")
            out[k] = _unshared(v, f"{where}{show(k)}.")
        return out
    if isinstance(node, list):
        return [_unshared(v, f"{where}{i}.") for i, v in enumerate(node)]
    return node


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML config file as a dict with string keys (``{}`` for an empty file)."""
    path = Path(path)
    raw = read_user_bytes(path, "config", MAX_CONFIG_BYTES)
    name = file_name(path)
    text = decode_utf8(raw, name)
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        if mark is not None:
            where = f"{name}:{mark.line + 1}"
        elif isinstance(e, yaml.reader.ReaderError):  # a character YAML refuses, e.g. NUL
            line = text.count("\n", 0, e.position) + 1
            where = f"{name}:{line}"
        else:
            where = name
        problem = getattr(e, "problem", None) or (str(e).splitlines() or ["cannot parse"])[0]
        raise UserError(f"{where}: invalid YAML: {show(one_line(problem), 200)}") from None
    except _UnsafeYaml as e:
        raise UserError(f"{name}: invalid YAML: {e}") from None
    except RecursionError:
        raise UserError(f"{name}: invalid YAML: nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - a value the YAML library cannot build, e.g. a 5000-digit int
        raise UserError(f"{name}: invalid YAML: {show(one_line(e), 200)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise UserError(f"{name}: the config must be a mapping of keys to values, not {kind}")
    try:
        return _unshared(data)
    except _NonStringKey as e:
        raise UserError(f"{name}: {e.where}: keys must be names (text)") from None


# --- --set key.path=value -------------------------------------------------------------------------


def _set_dotted(data: dict, key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key == "a.b.c"``, making missing sections."""
    parts = [p.strip() for p in key.split(".")]
    if any(not p for p in parts):
        raise UserError(f"--set {show(key)}: empty part in the key path")
    node = data
    for i, p in enumerate(parts[:-1]):
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            what = "a list" if isinstance(nxt, list) else "a value"
            where = show(".".join(parts[: i + 1]))
            raise UserError(f"--set {show(key)}: {where} is {what}, not a section")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` strings; values are parsed as YAML (``3``, ``0.5``, ``null``,
    ``[0, 1]``); a value that is not valid YAML is taken as a string."""
    if not isinstance(data, dict):
        raise UserError("--set: the config must be a mapping of keys to values")
    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, (list, tuple)):
        raise UserError(f"--set: expected a list of key.path=value, not {type(overrides).__name__}")
    for item in overrides:
        if not isinstance(item, str):
            raise UserError(f"--set {show(repr(item))}: expected key.path=value")
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set '{show(item)}': expected key.path=value")
        try:
            value = _load_yaml(raw) if raw.strip() else ""
        except _UnsafeYaml as e:
            raise UserError(f"--set {show(key)}: {e}") from None
        except Exception:  # noqa: BLE001 - not valid YAML (or not buildable): take the text as it is
            value = raw
        _set_dotted(data, key, value)
    return data
