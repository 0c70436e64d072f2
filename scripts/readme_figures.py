"""The README's figures, checked against the commands that print them.

A block of the README that quotes a command's output is marked by the line just above it::

    <!-- printed by: autoalign summary results/demo/demo5/seed-0 -->

followed by a fenced block (the output verbatim) or a markdown table (the output's lines). This
script runs each marked command from the repository root and compares (``--check``, the default;
``tests/test_readme_figures.py`` does the same in ``make test``) or rewrites the blocks from the
commands' output (``--write``), so that a figure in the README is what a command prints on the
shipped results, never a number typed from memory.

    python scripts/readme_figures.py            # exit 1 and a diff where README and output differ
    python scripts/readme_figures.py --write    # refresh every marked block
"""

from __future__ import annotations

import difflib
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^<!-- printed by: (?P<command>.+?) -->$")


@dataclass
class Block:
    command: str
    start: int  # first line of the block's content (0-based), after any opening fence
    end: int  # one past its last content line
    fenced: bool
    text: str


def blocks(readme: str) -> list[Block]:
    """Every marked block of ``readme``; a mark without a block under it is an error."""
    lines = readme.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = MARK.match(line.strip())
        if not m:
            continue
        j = i + 1
        if j < len(lines) and lines[j].startswith("```"):
            k = next((k for k in range(j + 1, len(lines)) if lines[k].startswith("```")), None)
            if k is None:
                raise ValueError(f"README line {i + 1}: the fenced block under the mark never closes")
            out.append(Block(m["command"], j + 1, k, True, "\n".join(lines[j + 1 : k])))
        elif j < len(lines) and lines[j].startswith("|"):
            k = j
            while k < len(lines) and lines[k].startswith("|"):
                k += 1
            out.append(Block(m["command"], j, k, False, "\n".join(lines[j:k])))
        else:
            raise ValueError(f"README line {i + 1}: a mark must be followed by a fenced block or a table")
    return out


def run(command: str) -> str:
    """The output of an ``autoalign ...`` command, run in-process from the repository root."""
    import os

    from typer.testing import CliRunner

    from autoalign.cli import app

    argv = shlex.split(command)
    if argv[0] != "autoalign":
        raise ValueError(f"only autoalign commands are checked, not {command!r}")
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, argv[1:])
    finally:
        os.chdir(here)
    if result.exit_code != 0:
        raise RuntimeError(f"{command}: exit {result.exit_code}: {result.output.strip()}")
    return "\n".join(line.rstrip() for line in result.stdout.strip("\n").split("\n"))


def differences(readme: str) -> list[str]:
    """A unified diff per marked block whose text is not its command's output."""
    out = []
    for b in blocks(readme):
        printed = run(b.command)
        if b.text.rstrip() != printed:
            diff = difflib.unified_diff(b.text.split("\n"), printed.split("\n"), "README", b.command, lineterm="")
            out.append("\n".join(diff))
    return out


def rewrite(readme: str) -> str:
    lines = readme.split("\n")
    for b in reversed(blocks(readme)):
        lines[b.start : b.end] = run(b.command).split("\n")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = ROOT / "README.md"
    text = path.read_text()
    if "--write" in argv:
        new = rewrite(text)
        path.write_text(new)
        print(f"{len(blocks(new))} blocks written")
        return 0
    diffs = differences(text)
    print("\n\n".join(diffs) if diffs else f"{len(blocks(text))} blocks agree")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
