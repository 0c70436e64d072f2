"""Ship a run's results, not its models: the small files a reader needs to rebuild its tables.

``results/<config-name>/<run>/`` holds, for a run folder and each of its ``seed-K/`` sub-runs, the
files the summary, the endpoint table and the report's numbers are computed from (metrics.json,
units.json, config.yaml, provenance.json and, for a fan-out, seeds.json; a demo run's ``research/``
section's research.yaml, research.json, notebook.jsonl, curve.png and research.html), and nothing a
stage can recompute (models, samples, stage files, the research's ``search/`` students). Committed
beside the README, they let ``autoalign summary`` and ``autoalign endpoints`` rebuild every quoted
figure on a fresh clone, and let a test check that the README says what those commands print.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import UserError

SHIPPED = (
    "config.yaml",
    "metrics.json",
    "units.json",
    "provenance.json",
    "seeds.json",
    "sweep.json",
    # an ``autoalign research`` folder: its config, result, notebook and curve
    "research.yaml",
    "research.json",
    "notebook.jsonl",
    "curve.png",
    "research.html",
)
RESEARCH = "research"  # a demo run's research section (``research/demo.py``): shipped beside its metrics


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)  # atomic: a reader never sees half a file
    return dst


def _ship_folder(run: Path, dest: Path) -> list[Path]:
    out = [_copy(run / name, dest / name) for name in SHIPPED if (run / name).is_file()]
    audit = Path("boundary", "server", "audit.jsonl")  # a research run's evaluation-server log
    if (run / "research.json").is_file() and (run / audit).is_file():
        out.append(_copy(run / audit, dest / audit))
    if (run / RESEARCH / "research.json").is_file():
        (dest / RESEARCH).mkdir(exist_ok=True)
        out += _ship_folder(run / RESEARCH, dest / RESEARCH)
    for sub in sorted(run.glob("seed-*")):
        if (sub / "metrics.json").is_file():
            (dest / sub.name).mkdir(exist_ok=True)
            out += _ship_folder(sub, dest / sub.name)
    return out


def ship_run(run: str | Path, dest: str | Path) -> list[Path]:
    """Copy ``run``'s result files (and its seeds') into ``dest``; returns the files written."""
    run, dest = Path(run), Path(dest)
    if not any((run / f).is_file() for f in ("metrics.json", "research.json")):
        raise UserError(f"{run}: no metrics.json or research.json (not a finished run folder)")
    if (
        dest.exists()
        and any(dest.iterdir())
        and not any((dest / f).is_file() for f in ("metrics.json", "research.json"))
    ):
        raise UserError(f"{dest}: exists and is not a shipped run; choose an empty or new folder")
    dest.mkdir(parents=True, exist_ok=True)
    return _ship_folder(run, dest)
