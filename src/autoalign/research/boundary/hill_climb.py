"""Canary: a proposer that asks the evaluation server for sealed test scores again and again, to
keep whichever student scores best on the test split (selection on the test set, the oldest way to
overfit it). The server's test budget answers once per method and seed and as often as the loop
declared in all; every refusal is in its audit log."""

from __future__ import annotations

from pathlib import Path

from .client import BoundaryClient, Refused


def hill_climb(client: BoundaryClient, seed: int, students: list[Path], split: str = "test") -> dict:
    """Score every student on ``split`` (and the first one twice), report the best score got."""
    scores, refused = {}, []
    for i, student in enumerate([*students, students[0]]):
        name = f"hill-climb-{i % len(students)}"
        try:
            scores[name] = client.score(split, seed, name, student)["accuracy"]
        except Refused as e:
            refused.append(f"{name}: {e.reason}")
    best = max(scores.values(), default=None)
    return {"scores": scores, "refused": refused, "reported": best}
