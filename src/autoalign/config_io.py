"""Reading what users write: YAML config files and ``--set key.path=value`` overrides.

Every failure is a ``UserError`` naming the file (and line, where it is known) or the override, so
the CLI prints one line; random bytes, binary junk, truncated files, deep nesting and keys that are
not strings never end in a traceback (``tests/test_fuzz_loaders.py`` fuzzes all of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


def one_line(text: object) -> str:
    """A message fragment on one line (YAML's and JSON's messages may span several)."""
    return " ".join(str(text).split())


def decode_utf8(raw: bytes, where: str, first_line: int = 1) -> str:
    """Bytes as UTF-8 text, or a UserError naming the line of the first byte that is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + first_line
        raise UserError(f"{where}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    if any(not p.strip() for p in parts):
        raise UserError(f"--set {key}: empty part in the key path")
    node = data
    for i, p in enumerate(parts[:-1]):
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise UserError(f"--set {key}: {'.'.join(parts[: i + 1])} is not a section")
        node = nxt
    node[parts[-1]] = value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` strings; values are parsed as YAML (``3``, ``0.5``, ``null``,
    ``[0, 1]``); a value that is not valid YAML is taken as a string."""
    for item in overrides:
        if not isinstance(item, str):
            raise UserError(f"--set {item!r}: expected key.path=value")
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {one_line(item)!r}: expected key.path=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, RecursionError, ValueError):
            value = raw
        _set_dotted(data, key, value)
    return data


def _has_only_string_keys(node: Any, depth: int = 0) -> str | None:
    """The dotted path of the first mapping key that is not a string, if any."""
    if depth > 200:
        return "(nesting deeper than 200 levels)"
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                return repr(k)
            bad = _has_only_string_keys(v, depth + 1)
            if bad is not None:
                return f"{k}.{bad}"
    elif isinstance(node, list):
        for i, v in enumerate(node):
            bad = _has_only_string_keys(v, depth + 1)
            if bad is not None:
                return f"{i}.{bad}"
    return None


def read_yaml_mapping(path: str | Path) -> dict:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read config: {e.strerror or e}") from None
    text = decode_utf8(raw, str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{where}: invalid YAML: {one_line(problem)}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid YAML: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the config must be a mapping of keys to values")
    bad = _has_only_string_keys(data)
    if bad is not None:
        raise UserError(f"{path}: {one_line(bad)}: keys must be names (text)")
    return data
