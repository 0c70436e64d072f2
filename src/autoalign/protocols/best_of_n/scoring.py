"""Verifier data and scoring shared by best-of-N and its active-learning study: the world's step
spans with the checker's labels, distinct solutions scored once, and pools of scored samples."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ...overseers.training import step_logit_values, step_probabilities
from ...records import LabelledSolution
from ...worlds.base import World
from .reranking import Pool


def labelled_solutions(rows: list[dict], world: World) -> list[LabelledSolution]:
    """Samples as verifier training data: the world's step spans, the checker's step labels, and
    final-answer correctness as the label of the answer step."""
    out = []
    for r in rows:
        spans = world.steps(r["text"])
        labels = list(r["step_labels"])
        if len(spans) > len(labels):  # the answer step
            labels = labels + [bool(r["correct"])] * (len(spans) - len(labels))
        tokens = tuple(r["tokens"]) if r.get("tokens") is not None else None
        out.append(LabelledSolution(r["prompt"], r["text"], tuple(spans), tuple(labels[: len(spans)]), tokens))
    return [e for e in out if e.spans]


def unique_solutions(rows: list[dict]) -> tuple[list[tuple[str, str]], list[int]]:
    """Distinct (prompt, text) pairs and, for each row, the index of its pair: score each once."""
    index: dict = {}
    which = [index.setdefault((r["prompt"], r["text"]), len(index)) for r in rows]
    return list(index), which


def pair_tokens(rows: list[dict], pairs: list[tuple[str, str]]) -> list:
    """The generator's own token ids for each distinct pair (None where they were not kept)."""
    first: dict = {}
    for r in rows:
        first.setdefault((r["prompt"], r["text"]), r.get("tokens"))
    return [first.get(p) for p in pairs]


def score_pairs(
    scorer,
    tokenizer,
    world: World,
    pairs,
    probabilities: bool = True,
    description: str = "scoring",
    tokens: list | None = None,
):
    prompts, texts = [p for p, _ in pairs], [t for _, t in pairs]
    spans = [world.steps(t) for t in texts]
    fn = step_probabilities if probabilities else step_logit_values
    return fn(scorer, tokenizer, prompts, texts, spans, description=description, tokens=tokens)


def pools_from(rows: list[dict], scores: dict[str, np.ndarray]) -> list[Pool]:
    by_problem: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_problem[r["problem"]].append(i)
    return [
        Pool(
            correct=np.array([rows[i]["correct"] for i in idx]),
            answers=[rows[i]["answer"] for i in idx],
            scores={m: s[idx] for m, s in scores.items()},
        )
        for _, idx in sorted(by_problem.items())
    ]
