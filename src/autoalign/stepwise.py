"""TRL's stepwise data format: one JSON object a line with ``prompt``, ``completions``, ``labels``.

``completions`` is the list of a solution's steps and ``labels`` says, step by step, whether it is
correct. This is the format of TRL's stepwise-supervision data sets, so a researcher can bring
their own step labels. The format knows nothing of any world: the steps become one solution text
by joining them with a separator (TRL's ``step_separator``; autoalign's worlds and its own export
use ``;``), and it is the world that says where a joined text's steps are.

Example line (an arithmetic chain; the last completion is the answer)::

    {"prompt": "7+5*3=", "completions": ["7+5=12", "12*3=36", "#36"], "labels": [true, true, true]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .records import LabelledSolution
from .runtime.store import atomic_write_text

DEFAULT_SEPARATOR = ";"


def join_steps(completions: list[str], separator: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The steps as one text, and each step's (start, end) span in it, its separator included
    (the last step has none after it)."""
    spans, pos = [], 0
    for i, c in enumerate(completions):
        end = pos + len(c) + (len(separator) if i < len(completions) - 1 else 0)
        spans.append((pos, end))
        pos = end
    return separator.join(completions), tuple(spans)


@dataclass(frozen=True)
class StepwiseExample:
    prompt: str
    completions: list[str]
    labels: list[bool]

    def labelled(self, separator: str = DEFAULT_SEPARATOR) -> LabelledSolution:
        """As a verifier's training example: the steps joined by ``separator``, each span holding
        the separator after it."""
        text, spans = join_steps(self.completions, separator)
        return LabelledSolution(self.prompt, text, spans, tuple(self.labels))


def write_stepwise_jsonl(path: str | Path, examples: list[StepwiseExample]) -> None:
    lines = [json.dumps({"prompt": e.prompt, "completions": e.completions, "labels": e.labels}) for e in examples]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def read_stepwise_jsonl(path: str | Path) -> list[StepwiseExample]:
    """Read and validate a stepwise JSONL file. Any problem (missing file, a directory, bytes that
    are not UTF-8, a truncated or broken line, a wrong type, no examples) is a one-line UserError
    naming the file and, where there is one, the line."""
    from .config_io import file_name
    from .jsonl_io import read_jsonl_lines

    path = Path(path)
    try:
        rows = read_jsonl_lines(path)
    except UserError as e:
        what = "expected a JSON object with prompt, completions, labels"
        raise UserError(str(e).replace("expected a JSON object", what)) from None
    out = []
    for lineno, obj in rows:
        where = f"{file_name(path)}:{lineno}"
        missing = [k for k in ("prompt", "completions", "labels") if k not in obj]
        if missing:
            raise UserError(f"{where}: missing key {missing[0]!r}")
        prompt, comps, labels = obj["prompt"], obj["completions"], obj["labels"]
        if not isinstance(prompt, str):
            raise UserError(f"{where}: 'prompt' must be a string")
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise UserError(f"{where}: 'completions' must be a list of strings")
        if not isinstance(labels, list) or not all(isinstance(x, bool) for x in labels):
            raise UserError(f"{where}: 'labels' must be a list of true/false")
        if len(comps) != len(labels):
            raise UserError(f"{where}: {len(comps)} completions but {len(labels)} labels; they must match")
        if not comps:
            raise UserError(f"{where}: 'completions' is empty")
        out.append(StepwiseExample(prompt, comps, labels))
    if not out:
        raise UserError(f"{file_name(path)}: no examples found")
    return out
