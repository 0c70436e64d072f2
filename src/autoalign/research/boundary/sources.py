"""Where the evaluation server's labels come from: read in the server's process, on first need.

* ``files``: ``{"kind": "files", "dir": D}``: ``D/<split>-<seed>.jsonl``, one ``{"text", "label"}``
  per line (tests, and a user's own labelled items);
* ``weak_to_strong``: ``{"kind": "weak_to_strong", "root": R, "config": C}``: the test items of the
  weak-to-strong run config ``C`` at each seed, built here from the world (its checker gives the
  labels) exactly as the protocol builds them in ``R/seed-<seed>``; the split only says which seeds
  may be asked for.
"""

from __future__ import annotations

import json
from pathlib import Path


class FileSource:
    def __init__(self, folder: str):
        self.folder = Path(folder)

    def items(self, split: str, seed: int) -> tuple[list[str], list[int]]:
        rows = [json.loads(line) for line in (self.folder / f"{split}-{seed}.jsonl").read_text().splitlines() if line]
        return [r["text"] for r in rows], [int(r["label"]) for r in rows]


class WeakToStrongSource:
    def __init__(self, root: str, config: dict):
        self.root, self.config = root, config

    def items(self, split: str, seed: int) -> tuple[list[str], list[int]]:
        from ...config import config_from_dict
        from ...protocols.weak_to_strong.tasks import items
        from ..evaluate import seed_config, seed_context

        cfg = seed_config(config_from_dict(self.config, "evaluation server"), seed)
        ctx = seed_context(Path(self.root), cfg)
        test = items(ctx, cfg.weak_to_strong, "test")
        return [it.text for it in test], [it.label for it in test]


def make_source(spec: dict):
    kind = spec.get("kind")
    if kind == "files":
        return FileSource(spec["dir"])
    if kind == "weak_to_strong":
        return WeakToStrongSource(spec["root"], spec["config"])
    raise ValueError(f"unknown label source {kind!r} (files or weak_to_strong)")
