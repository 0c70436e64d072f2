"""The lines a finished run prints: each protocol's summary, from the run's metrics.json alone.

``autoalign run`` and ``autoalign demo`` print them when a run ends, and ``autoalign summary RUN``
prints the same lines later from the folder (or from a shipped copy of its metrics.json), so that a
figure quoted in the README can be checked against the command that printed it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError


def summary_lines(metrics: dict, seeds: list | None = None, sweep: bool = False) -> list[str]:
    """Each protocol's summary lines, in the order the run measured them."""
    from ..protocol import get_protocol

    out = []
    if seeds:
        out.append(f"pooled over seeds {', '.join(map(str, seeds))} (CIs resample seeds and problems)")
    for label, group in metrics.items() if sweep else [("", metrics)]:
        if label == "provenance":
            continue
        if label:
            out.append(f"[{label}]")
        for name, results in group.items():
            if name == "provenance":  # what the run was, not what it measured (``autoalign endpoints``)
                continue
            try:
                if name == "endpoints":
                    from ..endpoints import summary_lines as endpoint_lines

                    lines = endpoint_lines(results)
                else:
                    lines = get_protocol(name).summary(results)
            except UserError:
                lines = [f"{name}: (no summary)"]  # a protocol no longer installed
            out.extend(("  " if label else "") + line for line in lines)
    return out


def folder_summary(folder: Path) -> list[str]:
    """The summary of a run folder, or of a shipped one (metrics.json and, if pooled, seeds.json)."""
    path = Path(folder) / "metrics.json"
    if not path.exists():
        raise UserError(f"{folder}: no metrics.json (not a finished run folder)")
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    seeds_file = Path(folder) / "seeds.json"
    seeds = json.loads(seeds_file.read_text()) if seeds_file.exists() else None
    return summary_lines(metrics, seeds, sweep=(Path(folder) / "sweep.json").exists())
