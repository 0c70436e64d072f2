"""Pre-registration a reader can verify, and the provenance every run records.

Endpoints in a config say what a run claims, not *when* the claim was made: a config edited after a
result was seen looks the same as one written before. Git can date a claim, so a registration is a
file, ``preregistered/<config-name>.json``, holding the config's endpoints, the seeds to run, the
replication rule (what later seeds mean) and the config's *science digest*, committed before the runs.
Every run records the commit its code was at when the run folder was created, whether the tracked
tree was clean then and at the end, the science digest and its seeds (``provenance`` in
``metrics.json``). A run is **confirmatory** only when the registration is a committed file in that
very commit and agrees with the run on digest and seeds; anything else is exploratory, with the reason.

The science digest hashes the resolved config less what only says where, how fast or under what name
it runs (``NOT_SCIENCE``): a registration made on a laptop holds for a run on a cluster, but a changed
learning rate, test set or endpoint is a different experiment. The commit is taken when the folder is
created because stages are reused across commits: a run started before its registration and resumed
after it must not count. Git is optional: without a checkout every field is null and runs are
exploratory, never failed.

A run also records its ``environment``: Python, platform, CPU and the versions of the packages that
decide its numbers (``NUMERIC_PACKAGES``), because a rebuilt venv can move a figure with no change to
code or config. It is a record only: it enters no stage key and no digest, so cached stages survive
an upgrade. The versions ``make`` installs are locked in ``constraints.txt`` (``make lock``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import time
from pathlib import Path

from . import __version__
from .config import RunConfig
from .errors import UserError
from .runtime.store import atomic_write_json

FOLDER = "preregistered"
START_FILE = "provenance.json"  # in the run folder: what was true when the folder was created
NOT_SCIENCE = ("name", "seed", "seeds", "executor", "workers", "threads", "ray_address", "providers", "device")
REPLICATION = {
    "pooled": "later seeds are pooled with these in one test at the same alpha (one config for all)",
    "second-attempt": "later seeds are a second attempt, tested alone at half this registration's alpha",
}
ALPHA = 0.05
# The packages whose versions decide a run's numbers (looked up, never imported).
NUMERIC_PACKAGES = ("torch", "numpy", "transformers", "tokenizers", "safetensors", "scipy", "scikit-learn", "optuna")


# Keys added after registrations existed: left out at their default, so that a registered config's digest stays
# what it was (a key that changes what is computed enters the digest once it is set).
LATER_KEYS = {"autocast": "off", "compile": "off"}


def science_digest(cfg: RunConfig) -> str:
    """A hash of what the config computes: the resolved config less ``NOT_SCIENCE`` (and ``LATER_KEYS`` at their default)."""
    science = {
        k: v
        for k, v in cfg.model_dump(mode="json").items()
        if k not in NOT_SCIENCE and not (k in LATER_KEYS and v == LATER_KEYS[k])
    }
    return hashlib.sha256(json.dumps(science, sort_keys=True).encode()).hexdigest()[:16]


# ---- git: every failure is "unknown" (None), never an error ----


def _git(repo: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def source_checkout() -> Path | None:
    """The git checkout autoalign's source is tracked in, or None (an installed package, no git)."""
    package = Path(__file__).resolve().parent
    if _git(package, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None  # not tracked: e.g. site-packages inside someone's repository
    top = _git(package, "rev-parse", "--show-toplevel")
    return Path(top.strip()) if top else None


def head_commit(repo: Path | None) -> str | None:
    out = _git(repo, "rev-parse", "HEAD") if repo else None
    return out.strip() if out else None


def tree_clean(repo: Path | None) -> bool | None:
    """Whether the tracked files equal the commit (untracked files, such as run folders, do not count)."""
    out = _git(repo, "status", "--porcelain", "--untracked-files=no") if repo else None
    return None if out is None else out.strip() == ""


def _in_repo(path: str | Path, repo: Path | None) -> str:
    try:
        return str(Path(path).resolve().relative_to(repo.resolve())) if repo else str(path)
    except ValueError:
        return str(path)


# ---- the environment: a record, in no key or digest ----


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# The vector units torch's CPU kernels choose between: the same code and seed train to other weights
# on a CPU with other units (a sum's order follows the vector width), so a run records which it had.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str] | None:
    """The vector units of ``SIMD_FLAGS`` this CPU has (None where /proc/cpuinfo is not readable)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in SIMD_FLAGS if f in have]
    except OSError:
        pass
    return None


def environment() -> dict:
    """What this process computes with: Python, platform, CPU (its model and vector units) and
    ``NUMERIC_PACKAGES``' versions."""
    return {
        "python": platform.python_version(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "packages": {name: package_version(name) for name in NUMERIC_PACKAGES},
    }


# ---- what a run records ----


def record_run_start(run_dir: str | Path, config_file: str | Path | None) -> None:
    """Written once, when a run folder is created: the commit and the state of the tree at the start."""
    repo = source_checkout()
    atomic_write_json(
        Path(run_dir) / START_FILE,
        {
            "commit": head_commit(repo),
            "clean": tree_clean(repo),
            "config_file": None if config_file is None else _in_repo(config_file, repo),
            "config_name": None if config_file is None else Path(config_file).stem,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )


def run_provenance(run_dir: str | Path, cfg: RunConfig, seeds: list[int], placement: dict | None = None) -> dict:
    """The ``provenance`` block of a finished run's ``metrics.json`` (no paths or times of this machine,
    so that a resumed run's metrics equal an uninterrupted one's). ``placement``: where the run's stages
    computed, ``{"device": "cpu" | "cuda" | ..., "autocast": "off" | "bf16" | "bf16-wide"}``
    (``models.device``: ``auto`` resolves by machine, so the config alone does not say it); None
    where not known. ``compile`` is the config's (``off`` or ``on``): compiled training sums in another order."""
    placement = placement or {}
    try:
        start = json.loads((Path(run_dir) / START_FILE).read_text())
    except (OSError, ValueError):
        start = {}  # a folder created before runs recorded their start
    repo = source_checkout()
    return {
        "commit": start.get("commit"),
        "clean": start.get("clean"),
        "finished_commit": head_commit(repo),
        "finished_clean": tree_clean(repo),
        "config_file": start.get("config_file"),
        "config_name": start.get("config_name"),
        "science_digest": science_digest(cfg),
        "seeds": list(seeds),
        "device": placement.get("device"),
        "autocast": placement.get("autocast"),
        "compile": cfg.compile,  # a config key (not resolved by machine), recorded since it changes float order
        "autoalign": __version__,
        "environment": environment(),
    }


def record_provenance(store, cfg: RunConfig, placement: dict | None = None) -> dict:
    """Add a single run's provenance to its ``metrics.json``; returns the metrics."""
    metrics = without_provenance(store.metrics)
    metrics["provenance"] = run_provenance(store.path, cfg, [cfg.seed], placement)
    atomic_write_json(store.file("metrics.json"), metrics, sort_keys=False)
    return metrics


PLACEMENT_KEYS = ("device", "autocast")


def fanout_provenance(run_dir: str | Path, cfg: RunConfig, sub_runs: list[dict]) -> dict:
    """A fan-out's provenance: its own, with every seed's commit, and clean only if every seed's was;
    ``environment_mixed`` when the seeds (or the pooling) ran under different environments (None when
    a seed recorded none); ``device`` and ``autocast`` the seeds' where every seed recorded the same
    (else None), and ``placement_mixed`` when seeds computed on different devices or in different
    precisions (``auto`` on machines of different kinds: the seeds are then not replicates of one
    computation; None when a seed did not record them)."""
    subs = [m.get("provenance") or {} for m in sub_runs]
    agreed, mixed = {}, []
    for key in PLACEMENT_KEYS:
        values = [s.get(key) for s in subs]
        known = set(values) - {None}
        agreed[key] = values[0] if values and None not in values and len(known) == 1 else None
        mixed.append(True if len(known) > 1 else (None if None in values else False))
    top = run_provenance(run_dir, cfg, cfg.seeds or [cfg.seed], agreed)
    top["placement_mixed"] = True if True in mixed else (None if None in mixed else False)
    top["seed_commits"] = sorted({s.get("commit") for s in subs}, key=str)
    envs = [top["environment"]] + [s.get("environment") for s in subs]
    distinct = {json.dumps(e, sort_keys=True) for e in envs if e is not None}
    top["environment_mixed"] = True if len(distinct) > 1 else (None if None in envs else False)
    for key in ("clean", "finished_clean"):
        flags = [top[key]] + [s.get(key) for s in subs]
        top[key] = False if False in flags else (None if None in flags else True)
    return top


def without_provenance(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "provenance"}


# ---- registrations ----


def parse_seeds(text: str) -> list[int]:
    """``6,7,8`` or ``6-10`` (or both: ``1,3,6-10``)."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise UserError(f"--seeds: expected numbers like 6,7,8 or 6-10, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds: a seed is listed twice in {text!r}")
    return seeds


def _registrations(folder: Path, name: str) -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(folder.glob(f"{name}.json")) + sorted(folder.glob(f"{name}.*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            raise UserError(f"{path}: not a registration (not JSON)") from None
    return found


def preregister(
    config_file: Path, cfg: RunConfig, seeds: list[int] | None, replication: str, folder: Path, supersede: bool
) -> tuple[Path, dict]:
    """Write ``folder/<config-name>.json``; an existing one is kept as ``<name>.<n>.json`` with
    ``supersede`` (and refused without). Later seeds must be fresh; their alpha follows the rule of
    the registration they follow."""
    if replication not in REPLICATION:
        raise UserError(f"--replication: expected one of {', '.join(REPLICATION)}, got {replication!r}")
    seeds = list(seeds or cfg.seeds or [])
    if len(seeds) < 2:
        raise UserError(f"{config_file}: name at least two seeds (--seeds 1-5): one seed has no seed-level test")
    name = Path(config_file).stem
    path = folder / f"{name}.json"
    earlier = _registrations(folder, name)
    digest = science_digest(cfg)
    entry = {
        "config_file": _in_repo(config_file, folder.resolve().parent),  # the folder sits at the repo's root
        "config_name": name,
        "science_digest": digest,
        "endpoints": [e.model_dump(mode="json") for e in cfg.endpoints],
        "seeds": seeds,
        "replication": replication,
        "replication_means": REPLICATION[replication],
        "attempt": 1,
        "alpha": ALPHA,
        "test_seeds": seeds,
        "supersedes": None,
        "autoalign": __version__,
        "registered_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if path.exists() and not supersede:
        raise UserError(f"{path}: {name} is registered already; --supersede registers fresh seeds and keeps it")
    kept = None
    if path.exists():
        used = sorted({s for _, r in earlier for s in r.get("seeds", [])} & set(seeds))
        if used:
            raise UserError(f"seeds {', '.join(map(str, used))} were registered before for {name}: use fresh seeds")
        old = json.loads(path.read_text())
        if old.get("replication") == "pooled":
            if old.get("science_digest") != digest:
                raise UserError(f"{path}: pools later seeds, but the config changed (science digest differs)")
            entry["test_seeds"] = sorted(set(old.get("test_seeds", [])) | set(seeds))
            entry["alpha"] = old.get("alpha", ALPHA)
        else:
            entry["alpha"] = old.get("alpha", ALPHA) / 2
        entry["attempt"] = old.get("attempt", 1) + 1
        n = 1 + max([int(p.name.split(".")[-2]) for p, _ in earlier if p.name.split(".")[-2].isdigit()] + [0])
        kept = folder / f"{name}.{n}.json"
        entry["supersedes"] = {k: old.get(k) for k in ("seeds", "replication", "attempt", "alpha")}
        entry["supersedes"]["file"] = kept.name
        atomic_write_json(kept, old, sort_keys=False)
    atomic_write_json(path, entry, sort_keys=False)
    return path, entry


# ---- the judgement ----


def registration_at(repo: Path, commit: str, name: str) -> tuple[dict | None, str]:
    """The registration committed in ``commit`` (``git show``), or None and why not."""
    if _git(repo, "cat-file", "-e", f"{commit}^{{commit}}") is None:
        return None, f"commit {commit[:10]} is not in {repo}"
    text = _git(repo, "show", f"{commit}:{FOLDER}/{name}.json")
    if text is None:
        return None, f"no {FOLDER}/{name}.json in commit {commit[:10]}"
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return None, f"{FOLDER}/{name}.json in commit {commit[:10]} is not a registration"
    return found, ""


def seed_span(seeds: list) -> str:
    s = sorted(seeds)
    return f"{s[0]}-{s[-1]}" if len(s) > 2 and s == list(range(s[0], s[-1] + 1)) else ", ".join(map(str, s))


def confirmatory_evidence(metrics_json: dict, repo: Path | None) -> tuple[bool, str, float]:
    """Whether a run's endpoints are a confirmatory test, why (or why not), and the alpha its
    registration judges them at (a second attempt on fresh seeds: half the first's)."""
    p = metrics_json.get("provenance") if isinstance(metrics_json, dict) else None
    if not isinstance(p, dict):
        return False, "no provenance recorded (the run predates it)", ALPHA
    commit, name = p.get("commit"), p.get("config_name")
    if not commit:
        return False, "no commit recorded (autoalign was not run from a git checkout)", ALPHA
    if p.get("clean") is not True or p.get("finished_clean") is not True:
        return False, "the tree was not clean (uncommitted changes to tracked files during the run)", ALPHA
    if p.get("finished_commit") != commit or p.get("seed_commits", [commit]) != [commit]:
        return False, f"the code changed during the run (started at {commit[:10]})", ALPHA
    if p.get("placement_mixed") is True:
        return False, "its seeds computed on different devices or in different precisions", ALPHA
    if not name:
        return False, "no config file recorded", ALPHA
    if repo is None:
        return False, "no git checkout to look the registration up in", ALPHA
    found, why = registration_at(repo, commit, name)
    if found is None:
        return False, why, ALPHA
    if found.get("science_digest") != p.get("science_digest"):
        return False, f"the config differs from {FOLDER}/{name}.json (science digest)", ALPHA
    if sorted(found.get("seeds") or []) != sorted(p.get("seeds") or []):
        return (
            False,
            f"seeds {seed_span(p.get('seeds') or [])} are not the registered {seed_span(found.get('seeds') or [])}",
            ALPHA,
        )
    attempt, alpha = found.get("attempt", 1), found.get("alpha", ALPHA)
    return True, f"{FOLDER}/{name}.json in {commit[:10]} (attempt {attempt}, alpha {alpha:g})", alpha


def confirmatory(metrics_json: dict, repo: Path | None) -> tuple[bool, str]:
    """Whether a run's endpoints are a confirmatory test, and why (or why not)."""
    ok, why, _ = confirmatory_evidence(metrics_json, repo)
    return ok, why
