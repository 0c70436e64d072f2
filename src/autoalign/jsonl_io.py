"""Reading JSON and JSON-lines files that a user or a run folder holds, with one-line errors.

A missing, unreadable, non-UTF-8 or corrupt file is a ``UserError`` naming the file (and the line,
for JSONL), never a traceback: run folders may be copied, truncated or edited by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .config_io import decode_utf8, one_line
from .errors import UserError


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None


def read_json_file(path: str | Path) -> Any:
    path = Path(path)
    text = decode_utf8(_read_bytes(path), str(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    except RecursionError:
        raise UserError(f"{path}: invalid JSON: nested too deeply") from None


def read_jsonl_file(path: str | Path) -> list[dict]:
    """Every non-blank line of ``path`` as a JSON object."""
    path = Path(path)
    out = []
    for lineno, raw in enumerate(_read_bytes(path).split(b"\n"), start=1):
        where = f"{path}:{lineno}"
        line = decode_utf8(raw, str(path), first_line=lineno) if raw.strip() else ""
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where}: invalid JSON: {one_line(e.msg)} (column {e.colno})") from None
        except RecursionError:
            raise UserError(f"{where}: invalid JSON: nested too deeply") from None
        if not isinstance(obj, dict):
            raise UserError(f"{where}: expected a JSON object")
        out.append(obj)
    return out
