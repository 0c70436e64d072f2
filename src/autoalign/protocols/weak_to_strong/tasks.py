"""Labelled items for weak-to-strong: "is this solution correct?" and "is this step correct?".

Items come from a world's problems: each problem gives its gold solution or a copy with a planted
flaw (``World.tamper``), and the world's checker gives the label (a flaw that leaves the answer
right is labelled correct, as the checker says). The step task cuts a solution after a random step
and asks about that step. A user's JSONL of ``{"text", "label"}`` lines replaces the world. Each
role's items come from its own split (weak supervisor: ``train``; transfer: ``overseer``; test:
``test``), so no item is in two roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UserError
from ...seeding import py_rng
from ...worlds import make_world


@dataclass(frozen=True)
class Item:
    text: str  # what a classifier reads
    label: int
    prompt: str = ""  # for world items, the problem and the (partial) solution apart: what a PRM reads
    body: str = ""


SPLITS = {"weak": "train", "transfer": "overseer", "test": "test"}


def world_items(cfg, seed: int, role: str, n: int) -> list[Item]:
    world = make_world(cfg.world_name, cfg.world_config)
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
            out.append(Item(f"{p.prompt}{text}?", int(verdict.correct), p.prompt, text))
            continue
        spans = world.steps(text)[: len(verdict.step_labels)]
        if not spans:
            continue
        j = rng.randrange(len(spans))
        if i % 2 == 1 and False in verdict.step_labels[: len(spans)]:
            j = verdict.step_labels.index(False)  # ask about the flawed step itself
        body = text[: spans[j][1]]
        out.append(Item(f"{p.prompt}{body}?", int(verdict.step_labels[j]), p.prompt, body))
    return out


def pretraining_texts(cfg, seed: int, n: int) -> list[tuple[str, str]]:
    """Unlabelled text for language-model pretraining: gold solutions of other training problems."""
    world = make_world(cfg.world_name, cfg.world_config)
    return [(p.prompt, p.solution) for p in world.problems(seed, "train", n, tag=("w2s", "pretrain"))]


def file_items(path: str, seed: int) -> dict[str, list[Item]]:
    """A user's ``{"text", "label"}`` JSONL, split by a hash of the text: 40% weak, 40% transfer, 20% test."""
    from ...jsonl_io import read_jsonl_lines
    from ...seeding import unit_hash

    roles: dict[str, list[Item]] = {"weak": [], "transfer": [], "test": []}
    for lineno, obj in read_jsonl_lines(path):
        text, label = obj.get("text"), obj.get("label")
        if not isinstance(text, str) or label not in (0, 1, True, False):
            raise UserError(f"{path}:{lineno}: expected {{\"text\": str, \"label\": 0/1}}")
        u = int(unit_hash("w2s", text) * 100)
        roles["weak" if u < 40 else "transfer" if u < 80 else "test"].append(Item(text, int(label), "", text))
    if min(len(v) for v in roles.values()) < 10:
        raise UserError(f"{path}: too few examples ({sum(len(v) for v in roles.values())}); need about 50 or more")
    return roles
