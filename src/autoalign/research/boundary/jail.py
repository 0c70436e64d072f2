"""A candidate method, as a separate process in the sandbox's jail, with only its inputs to read.

A method is a Python file that defines::

    def train(strong_model_dir: str, transfer_path: str, out_dir: str, seed: int) -> None

It reads the strong model (a transformers folder: ``config.json``, weights, tokenizer) and the
transfer texts with their weak labels (JSONL, one ``{"text", "weak_label"}`` per line, the weak
label the supervisor's P(label = 1)), and writes its student to ``out_dir/model.safetensors``: the
strong model as a one-logit sequence classifier (``student.py``; ``methods/ce.py`` is the reference).

What the jail holds (``runtime/sandbox.py`` for the rest: no network, no capabilities, limits):

* ``/inputs`` (read-only): ``strong/``, ``transfer.jsonl`` and ``method.py``: copies, staged for this
  run in a fresh folder; never a test text, never a label, never the run folder;
* ``/opt/python`` (read-only): this environment's third-party packages (torch, transformers, ...),
  with ``autoalign`` masked by an empty folder, so the world, its checker and the protocol's code
  cannot be imported (an editable install's path is not in the jail at all);
* ``/work``, the method's own folder (a sized tmpfs), handed back through the sandbox's filter.

The jail's interpreter is the system Python (the sandbox's runtime), which must be this
environment's major.minor version for the packages to load; otherwise the run fails with one line.
So does a host without bubblewrap: a method never runs unsandboxed.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from ...runtime.sandbox import Limits, MiB, Sandbox, python_runtime
from .student import STUDENT_FILE

INPUTS, PACKAGES, OUT = "/inputs", "/opt/python", "/work/student"
METHOD_LIMITS = Limits(
    wall_seconds=900,
    cpu_seconds=1800,
    processes=64,  # threads count: torch's pools
    address_space=8192 * MiB,  # virtual: importing torch reserves far more than it touches
    file_size=512 * MiB,
    open_files=1024,
    disk=1024 * MiB,
    files=2000,
    output=1 * MiB,
)

RUNNER = """
import importlib.util, os, sys
threads = sys.argv[2]
os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, HF_HUB_OFFLINE="1", HOME="/work")
sys.path.append("/opt/python")
spec = importlib.util.spec_from_file_location("method", "/inputs/method.py")
method = importlib.util.module_from_spec(spec)
spec.loader.exec_module(method)
if not callable(getattr(method, "train", None)):
    sys.exit("method.py defines no train(strong_model_dir, transfer_path, out_dir, seed)")
os.makedirs("/work/student", exist_ok=True)
method.train(strong_model_dir="/inputs/strong", transfer_path="/inputs/transfer.jsonl",
             out_dir="/work/student", seed=int(sys.argv[1]))
"""


@dataclass(frozen=True)
class MethodRun:
    """What one sandboxed method run gave back: its student's folder (None: no student), and why not."""

    student: Path | None
    returncode: int
    reason: str  # the sandbox's stop reason, or why there is no student ("" when there is one)
    output: str  # the method's stdout and stderr (the sandbox keeps at most ``limits.output``)
    seconds: float

    @property
    def ok(self) -> bool:
        return self.student is not None


@functools.cache
def jail_python() -> str:
    """The jail's interpreter, if it can load this environment's packages; else one-line UserError."""
    interpreter, _ = python_runtime()
    try:
        out = subprocess.run([interpreter, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True)
        version = tuple(int(x) for x in out.stdout.split())
    except (OSError, ValueError):
        version = ()
    if version != sys.version_info[:2]:
        raise UserError(
            f"the sandbox's Python {interpreter} is {'.'.join(map(str, version)) or 'unusable'}, not "
            f"{sys.version_info[0]}.{sys.version_info[1]}: a method could not load this environment's packages"
        )
    return interpreter


def packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def stage_inputs(
    folder: Path, strong_dir: str | Path, texts: list[str], weak_labels: list[float], method: Path
) -> None:
    """A method's inputs in ``folder``, readable by the jail's user (nobody, when root starts it)."""
    folder.mkdir(parents=True)
    shutil.copytree(strong_dir, folder / "strong")
    rows = [json.dumps({"text": t, "weak_label": float(p)}) for t, p in zip(texts, weak_labels, strict=True)]
    (folder / "transfer.jsonl").write_text("".join(r + "\n" for r in rows))
    shutil.copyfile(method, folder / "method.py")
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def jail_binds(inputs: Path, empty: Path) -> dict[str, str]:
    """Host path -> jail path, read-only: the inputs, the packages, and an empty folder over autoalign."""
    binds = {str(inputs): INPUTS, str(packages()): PACKAGES}
    if (packages() / "autoalign").exists():  # a regular install: mask it
        binds[str(empty)] = f"{PACKAGES}/autoalign"
    return binds


def run_method(
    method: str | Path,
    strong_dir: str | Path,
    texts: list[str],
    weak_labels: list[float],
    seed: int,
    work: str | Path,
    limits: Limits = METHOD_LIMITS,
    threads: int = 1,
) -> MethodRun:
    """Run the method file ``method`` in a fresh jail; ``work`` (new or empty) receives its folder."""
    work = Path(work)
    if work.exists() and any(work.iterdir()):
        raise UserError(f"{work}: a method's work folder must be new or empty")
    interpreter = jail_python()
    started = time.time()
    staging = Path(tempfile.mkdtemp(prefix="autoalign-method-"))  # /tmp: the jail's user can reach it
    try:
        staging.chmod(0o755)
        (staging / "empty").mkdir(mode=0o755)
        stage_inputs(staging / "inputs", strong_dir, texts, weak_labels, Path(method))
        jail = Sandbox(work, limits, binds=jail_binds(staging / "inputs", staging / "empty"))
        done = jail.run([interpreter, "-I", "-S", "-c", RUNNER, str(seed), str(threads)])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    student = work / "student"
    reason = done.reason
    if not done.ok:
        reason = reason or f"the method exited with {done.returncode}"
    elif not (student / STUDENT_FILE).is_file():
        reason = f"the method returned no {OUT}/{STUDENT_FILE}"
    return MethodRun(
        student if not reason else None, done.returncode, reason, done.output, round(time.time() - started, 1)
    )
