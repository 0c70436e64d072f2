"""Reading JSON and JSON-lines files that a user or a run folder holds, with one-line errors.

A missing, unreadable, non-UTF-8, truncated or corrupt file is a ``UserError`` naming the file (and
the line, for JSONL), never a traceback: run folders may be copied, truncated or edited by hand.
A UTF-8 byte order mark at the start of a file is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config_io import decode_utf8, file_name, one_line, read_user_bytes, show
from .errors import UserError

_BOM = b"\xef\xbb\xbf"


def _parse_json(text: str, where: str, add_line: bool) -> Any:
    """``json.loads`` with any failure as a UserError at ``where`` (``:line`` added if add_line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        line = f":{e.lineno}" if add_line else ""
        problem = f"{one_line(e.msg)} (column {e.colno})"
        raise UserError(f"{where}{line}: invalid JSON: {problem}") from None
    except RecursionError:
        raise UserError(f"{where}: invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise UserError(f"{where}: invalid JSON: {show(one_line(e), 200)}") from None


def read_json_file(path: str | Path) -> Any:
    """A JSON file's value, or a UserError naming the file (and line) on any problem."""
    path = Path(path)
    name = file_name(path)
    raw = read_user_bytes(path)
    text = decode_utf8(raw.removeprefix(_BOM), name)
    if not text.strip():
        raise UserError(f"{name}: invalid JSON: the file is empty")
    return _parse_json(text, name, add_line=True)


def read_jsonl_lines(path: str | Path) -> list[tuple[int, dict]]:
    """Every non-blank line of a JSON-lines file as ``(line number, object)``; a line that is not
    UTF-8 or not a JSON object is a UserError naming ``file:line``."""
    path = Path(path)
    name = file_name(path)
    raw = read_user_bytes(path).removeprefix(_BOM)
    out = []
    for lineno, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        where = f"{name}:{lineno}"
        line = decode_utf8(chunk, name, first_line=lineno)
        if not line.strip():  # only Unicode blanks (e.g. U+00A0): a blank line all the same
            continue
        obj = _parse_json(line, where, add_line=False)
        if not isinstance(obj, dict):
            raise UserError(f"{where}: expected a JSON object, not {_json_type(obj)}")
        out.append((lineno, obj))
    return out


def read_jsonl_file(path: str | Path) -> list[dict]:
    """Every non-blank line of a JSON-lines file as a dict (see ``read_jsonl_lines``)."""
    return [obj for _, obj in read_jsonl_lines(path)]


def _json_type(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
