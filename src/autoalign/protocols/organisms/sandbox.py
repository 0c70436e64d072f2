"""The sandbox every agent action runs in: bubblewrap (``bwrap``), one fresh jail per action.

What the jail sees was decided by what an action needs, nothing more:

- no network: ``--unshare-net`` gives the action its own empty network namespace (not even the
  host's loopback), so a connection to any address fails;
- a read-only view of the Python runtime only (``/usr``, or the interpreter's own prefix when it
  lives elsewhere): the host's ``/etc``, ``/root``, ``/home`` and the run folder are not there at
  all, so they can be neither read nor written;
- one writable folder, the agent's work folder, mounted at ``/work``; the jail's root is remounted
  read-only and has no ``/tmp``, so a write anywhere else fails;
- a private ``/proc`` and ``/dev``, no shared PID, IPC or host name, a cleared environment, and
  ``--die-with-parent`` so no action outlives the run.

If ``bwrap`` is missing this fails with one line naming the Debian package: an action never runs
unsandboxed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError

PACKAGE = "bubblewrap"
WORK = "/work"
TOPS = ("/bin", "/lib", "/lib64", "/sbin")  # top-level runtime folders (links into /usr on merged-/usr systems)


@dataclass(frozen=True)
class ActionResult:
    """What one sandboxed command did: its exit code and its output (stdout, then stderr)."""

    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def require_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise UserError(
            f"bwrap not found: install the Debian package {PACKAGE} (apt-get install {PACKAGE}); "
            "agent actions never run unsandboxed"
        )
    return path


def python_runtime() -> tuple[str, list[str]]:
    """The interpreter actions run with and the host folders it needs, read-only: the system
    Python under ``/usr`` when there is one, else this interpreter's own prefix."""
    if Path("/usr/bin/python3").exists():
        return "/usr/bin/python3", ["/usr"]
    prefix = os.path.realpath(sys.base_prefix)
    return os.path.join(prefix, "bin", "python3"), [prefix, "/usr"]


class Sandbox:
    """Runs commands in a bwrap jail whose only writable place is ``work`` (seen as ``/work``)."""

    def __init__(self, work: str | Path, timeout: float = 10.0):
        self.bwrap = require_bwrap()
        self.work = Path(work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self.interpreter, self.ro = python_runtime()

    @property
    def visible(self) -> list[Path]:
        """The host folders the jail shows, read-only (the runtime): nothing else of the host."""
        return [Path(f) for f in dict.fromkeys(self.ro + list(TOPS)) if Path(f).is_dir() and not Path(f).is_symlink()]

    def argv(self, command: list[str]) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-uts",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
        ]
        for folder in dict.fromkeys(self.ro):
            if Path(folder).exists():
                args += ["--ro-bind", folder, folder]
        for top in TOPS:  # merged-/usr systems: keep the links, else bind
            if Path(top).is_symlink():
                args += ["--symlink", os.readlink(top), top]
            elif Path(top).is_dir():
                args += ["--ro-bind", top, top]
        args += [
            "--bind",
            str(self.work),
            WORK,
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--remount-ro",
            "/",
            "--chdir",
            WORK,
            "--",
        ]
        return args + command

    def run(self, command: list[str]) -> ActionResult:
        try:
            done = subprocess.run(
                self.argv(command), capture_output=True, text=True, timeout=self.timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return ActionResult(124, "timed out")
        if done.returncode != 0 and done.stderr.startswith("bwrap:"):  # the jail itself could not start
            raise UserError(
                f"bwrap could not start a sandbox ({done.stderr.strip()}); agent actions never run unsandboxed"
            )
        return ActionResult(done.returncode, (done.stdout + done.stderr).strip())

    def python(self, code: str, *args: str) -> ActionResult:
        """``python3 -I -S -c code args`` in the jail (isolated: no site packages, no user paths)."""
        return self.run([self.interpreter, "-I", "-S", "-c", code, *args])
