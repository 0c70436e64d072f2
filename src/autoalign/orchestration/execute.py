"""Running a config: one run, or, with ``seeds`` or ``sweep``, one sub-run per combination then the
pooled estimates (``fanout.py``)."""

from __future__ import annotations

from ..config import RunConfig
from ..runtime.store import RunStore
from .fanout import execute_fanout
from .runner import execute_single


def execute(store: RunStore, cfg: RunConfig) -> dict:
    """Run the config: its protocols in order (finished stages are reused), or, with ``seeds`` or
    ``sweep``, one sub-run per combination on the chosen executor, then the pooled estimates."""
    if cfg.seeds or cfg.sweep:
        return execute_fanout(store, cfg)
    return execute_single(store, cfg)
