"""How a chain of operations is written: ``a op b = r`` steps joined by ``;``, then ``#answer``.

The arithmetic-chains world defines it and countdown shares it; the planted flaws
(``tampering.py``) write it too. It lives apart from ``arithmetic.py`` so that the flaws need not
import the world that uses them (no import cycle).
"""

from __future__ import annotations

import re

STEP_SEP = ";"
ANSWER_MARK = "#"
PROMPT_END = "="
STEP_RE = re.compile(r"^(\d+)([+\-*/])(\d+)=(\d+)$")


def apply_op(a: int, op: str, b: int, modulus: int) -> int | None:
    """One operation, as the world defines it; None if it is undefined (division not exact)."""
    if op == "+":
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif op == "/":
        if b == 0 or a % b:
            return None
        r = a // b
    else:
        return None
    return r % modulus


def split_solution(text: str) -> tuple[list[str], str | None]:
    """Split model text into step strings and the raw answer string (None if no answer mark)."""
    text = text.strip().split("\n", 1)[0]
    parts = [p for p in text.split(STEP_SEP)]
    answer = None
    steps: list[str] = []
    for p in parts:
        if p.startswith(ANSWER_MARK):
            answer = p[len(ANSWER_MARK) :]
            break
        steps.append(p)
    return steps, answer


def step_spans(text: str) -> list[tuple[int, int]]:
    """Spans of ``a op b = r;`` steps and the ``#answer`` on the first line: each step's span holds
    its separator, so the spans tile what the model wrote (shared by countdown's format)."""
    line = text.split("\n", 1)[0]
    spans, start = [], 0
    while start < len(line):
        end = line.find(STEP_SEP, start)
        if line.startswith(ANSWER_MARK, start) or end < 0:
            spans.append((start, len(line)))
            break
        spans.append((start, end + 1))
        start = end + 1
    return spans
