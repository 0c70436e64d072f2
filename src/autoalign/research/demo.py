"""The demo's research section: after its experiments, ``autoalign demo`` runs the automated
researcher once, small (``configs/demo-research.yaml``), into ``<demo run folder>/research/``, so a
first run shows the loop (proposers, the keep-or-discard gate, the sealed test on fresh seeds) as
well as the experiments it searches around.

It lives here, not in the command line, because it is the demo's policy for a research folder:

- ``--seed K`` shifts every search and test seed by ``1000 * K`` (both sets by the same amount, so the
  sealed test's seeds stay fresh) and seeds the proposers with K; the demo's own folder already
  changes with its seed (``runs/demo-seedK``, and a reused folder whose demo config changed is moved
  aside, research included), so a research folder only ever holds one seed's search;
- a finished search (``research.json`` of these seeds) is reloaded, not rerun; a stopped one resumes
  from its finished students (``run_research`` reuses its stages); one made by another version of
  the packaged config is moved aside, as the demo moves its own folder, and run afresh.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from ..config_io import read_yaml_mapping
from ..errors import UserError
from .config import load_research
from .loop import load_result, run_research
from .notebook import summary_lines

SUBFOLDER = "research"
SEED_STRIDE = 1000
# ``demo --quick`` runs the same search: it is already the smallest that shows every part of the loop
CONFIG = "demo-research.yaml"


def seed_overrides(mapping: dict, seed: int) -> list[str]:
    """``--set`` overrides that move the search to demo seed ``seed`` (none for seed 0)."""
    if seed == 0:
        return []
    r = mapping["research"]
    shift = SEED_STRIDE * seed
    search = [s + shift for s in r["search_seeds"]]
    test = [s + shift for s in r["test_seeds"]]
    return [
        f"seed={mapping.get('seed', 0) + seed}",
        f"research.search_seeds=[{', '.join(map(str, search))}]",
        f"research.test_seeds=[{', '.join(map(str, test))}]",
    ]


def _move_aside(folder: Path, why: str, say) -> None:
    kept = folder.with_name(f"{folder.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    folder.rename(kept)
    say(f"{why}; kept the previous research as {kept}")


def run_demo_research(demo_folder: Path, seed: int, say=lambda _: None) -> dict:
    """The demo's search for demo seed ``seed`` in ``demo_folder/research``: its result (research.json),
    reloaded when that folder already holds it. ``say``: where a note on a moved folder goes."""
    folder = Path(demo_folder) / SUBFOLDER
    with resources.as_file(resources.files("autoalign") / "configs" / CONFIG) as path:
        overrides = seed_overrides(read_yaml_mapping(path), seed)
        saved = folder / "research.yaml"
        if saved.is_file() and saved.read_text() != path.read_text():
            _move_aside(folder, "the demo's research config changed", say)
        elif folder.exists() and any(folder.iterdir()) and not saved.is_file():
            raise UserError(f"{folder}: exists and is not a research folder; move it to run the demo's research")
        if (folder / "research.json").is_file():
            result = load_result(folder)
            want = _seeds(path, overrides)
            if (result.get("search_seeds"), result.get("test_seeds")) == want:
                return result
            _move_aside(folder, "the demo's research seeds changed", say)
        return run_research(path, folder, overrides)


def _seeds(path: Path, overrides: list[str]) -> tuple[list, list]:
    r = load_research(path, overrides)[0].research
    return r.search_seeds, r.test_seeds


def printed_lines(demo_folder: Path, result: dict) -> list[str]:
    """What ``autoalign demo`` prints after its own summary: the research's summary and its page."""
    return summary_lines(result) + [f"report: {Path(demo_folder) / SUBFOLDER / 'research.html'}"]


def folder_lines(run_dir: Path) -> list[str]:
    """The research section of a (shipped) demo run folder's summary (``autoalign summary``): the
    lines the demo printed, less its report line; none without ``research/research.json``."""
    path = Path(run_dir) / SUBFOLDER
    return summary_lines(load_result(path)) if (path / "research.json").is_file() else []
