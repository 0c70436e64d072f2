"""Labelled items for weak-to-strong: "is this solution correct?" and "is this step correct?".

Items come from a world's problems: each problem gives its gold solution or a copy with a planted
flaw (``World.tamper``), and the world's checker gives the label (a flaw that leaves the answer
right is labelled correct, as the checker says). The step task cuts a solution after a random step
(``World.steps``) and asks about that step. Any world with gold solutions and planted flaws works:
items are read only through the World contract. A user's JSONL of ``{"text", "label"}`` lines
replaces the world. Each role's items come from its own split (weak supervisor: ``train``;
transfer: ``overseer``; test: ``test``), so no item is in two roles.

Items carry their labels and problems; what a method is handed of them is :func:`unlabelled`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import UserError
from ...methods.base import Text
from ...seeding import py_rng


@dataclass(frozen=True)
class Item:
    text: str  # what a classifier reads
    label: int
    prompt: str = ""  # for world items, the problem and the (partial) solution apart: what a PRM reads
    body: str = ""
    problem: Any = field(default=None, compare=False)  # the world's problem (None for a file's item)


def unlabelled(items: list[Item], steps) -> tuple[Text, ...]:
    """The items as a method sees them: texts and step spans (``steps(body)``), no label, no problem."""
    return tuple(Text(it.text, it.prompt, it.body, tuple(steps(it.body))) for it in items)


SPLITS = {"weak": "train", "transfer": "overseer", "test": "test"}


def world_items(cfg, seed: int, role: str, n: int) -> list[Item]:
    world = cfg.world.make()
    problems = world.problems(seed, SPLITS[role], n, tag=("w2s", role))
    rng = py_rng(seed, "w2s", role)
    kinds = list(world.flaw_kinds)
    out = []
    for i, p in enumerate(problems):
        text = p.solution
        if i % 2 == 1:
            text = world.tamper(p, kinds[rng.randrange(len(kinds))], rng).text
        verdict = world.check(p, text)
        if cfg.task == "solution":
            out.append(Item(f"{p.prompt}{text}?", int(verdict.correct), p.prompt, text, p))
            continue
        spans = world.steps(text)[: len(verdict.step_labels)]
        if not spans:
            continue
        j = rng.randrange(len(spans))
        if i % 2 == 1 and False in verdict.step_labels[: len(spans)]:
            j = verdict.step_labels.index(False)  # ask about the flawed step itself
        body = text[: spans[j][1]]
        out.append(Item(f"{p.prompt}{body}?", int(verdict.step_labels[j]), p.prompt, body, p))
    return out


def file_items(path: str, seed: int) -> dict[str, list[Item]]:
    """A user's ``{"text", "label"}`` JSONL, split by a hash of the text: 40% weak, 40% transfer, 20% test."""
    from ...jsonl_io import read_jsonl_lines
    from ...seeding import unit_hash

    roles: dict[str, list[Item]] = {"weak": [], "transfer": [], "test": []}
    for lineno, obj in read_jsonl_lines(path):
        text, label = obj.get("text"), obj.get("label")
        if not isinstance(text, str) or label not in (0, 1, True, False):
            raise UserError(f'{path}:{lineno}: expected {{"text": str, "label": 0/1}}')
        u = int(unit_hash("w2s", text) * 100)
        roles["weak" if u < 40 else "transfer" if u < 80 else "test"].append(Item(text, int(label), "", text))
    if min(len(v) for v in roles.values()) < 10:
        raise UserError(f"{path}: too few examples ({sum(len(v) for v in roles.values())}); need about 50 or more")
    return roles


def items(ctx, w, role: str) -> list[Item]:
    """The ``role`` items (``weak``, ``transfer`` or ``test``) of this run, with their labels."""
    if w.data is not None:
        return file_items(w.data, ctx.seed)[role]
    n = {"weak": w.weak_items, "transfer": w.transfer_items, "test": w.test_items}[role]
    return world_items(w, ctx.seed, role, n)


def steps_of(w):
    """How an item's body splits into steps: the world's steps, or one step for a user's text."""
    if w.data is not None:
        return lambda text: [(0, len(text))]
    return w.world.make().steps
