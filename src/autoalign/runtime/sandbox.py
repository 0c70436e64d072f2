"""The sandbox untrusted code runs in (an agent's actions, a proposed method): bubblewrap (``bwrap``),
one fresh jail per action, bounded in what it can reach and in what it can use.

What the jail can reach was decided by what an action needs, nothing more:

- no network: ``--unshare-net`` gives it its own network namespace, whose loopback is its own;
- a read-only view of the Python runtime only (``/usr``, or the interpreter's own prefix): the host's
  ``/etc``, ``/root``, ``/home``, ``/tmp`` and the run folder are not there at all; ``/`` and ``/dev``
  are read-only (no ``/dev/shm`` to fill), so the one writable place is ``/work``; a caller may show
  more host paths, read-only (``binds``: a method's inputs and the packages it imports);
- a private ``/proc`` (its own PID namespace: no host process is visible), private IPC, host name and
  cgroup view, a cleared environment, ``--die-with-parent``. bwrap itself starts with an empty
  environment too, a second guard: were its reaper the jail's pid 1, ``/proc/1/environ`` would show it;
- no privilege: an unprivileged user namespace (uid and gid 65534 inside), ``--cap-drop ALL``, and
  ``--disable-userns`` (bwrap 0.8 on: no nested namespace to regain capabilities in). Started by root,
  bwrap runs as host uid 65534, so the jail is nobody on the host too: mapped to host root, a process
  without capabilities would still own root's files, and the kernel never applies RLIMIT_NPROC to host
  root. Where the host forbids user namespaces, root runs the jail without one (capabilities still
  dropped; the process limit then does not hold).

What it can use (:class:`Limits`):

- processes (RLIMIT_NPROC), address space per process (RLIMIT_AS), file size (RLIMIT_FSIZE), CPU
  seconds per process (RLIMIT_CPU), open files (RLIMIT_NOFILE), no core files: set by the entry program
  (``sandbox_entrypoint.py``) on itself, as the jail's pid 1 (``--as-pid-1``: no bwrap reaper inside),
  so every process in the jail runs under them and none is left for the command to ptrace into doing
  what it may not. In the jail's user namespace RLIMIT_NPROC counts that jail's processes only, so a
  fork bomb meets it without counting (or starving) the host user's other processes. When the
  command exits, whatever it left running is killed;
- disk: ``/work`` is a tmpfs of ``disk`` bytes (``--size``, bwrap 0.7 on), filled from the host's work
  folder when the action starts and handed back when it ends. A writable bind of a host folder cannot
  be bounded by an unprivileged process (RLIMIT_FSIZE bounds one file, not their number, and a size
  check after the action comes after the disk is full); a sized tmpfs refuses the write that would
  pass the bound (ENOSPC). What comes back is untrusted: the host keeps it only through tarfile's
  ``data`` filter (no links out of the folder, no devices) and only up to ``files`` entries, else it
  leaves its folder as it was. bwrap cannot set the tmpfs's inode count, so empty files are bounded in
  the jail by time only (the kernel's default count, memory freed with the jail) and never reach the
  host past ``files``;
- wall time (``wall_seconds``) and output (``output`` bytes): watched by the host, which kills the jail
  past either and returns once it is gone. A jail stopped this way hands nothing back.

Rlimits are per process: the jail's memory is at most ``processes * address_space + disk``; a bound on
the total needs a cgroup, which an ordinary user cannot make on most hosts.

Every stop is recorded on the :class:`ActionResult`: its ``reason`` names the limit ("timed out",
"killed: cpu limit", "memory limit", "disk limit", ...), from the signal that ended the command or from
the refusal it reported (the kernel refuses memory, processes and space with an errno, not a signal).

If ``bwrap`` is missing or too old this fails with one line naming the Debian package: an action never
runs unsandboxed.
"""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

PACKAGE = "bubblewrap"
WORK = "/work"
TOPS = ("/bin", "/lib", "/lib64", "/sbin")  # top-level runtime folders (links into /usr on merged-/usr systems)
NOBODY = 65534  # the unprivileged uid and gid the jail runs as
BWRAP_ENV: dict[str, str] = {}  # bwrap's own environment: a jail that saw bwrap could read it in /proc
ENTRYPOINT = (Path(__file__).parent / "sandbox_entrypoint.py").read_text()
STARTED = b"started\n"
MiB = 1 << 20

# What a program prints when the kernel refuses it a resource, and the limit that refused it.
REFUSALS = {
    os.strerror(errno.ENOMEM): "memory limit",
    "MemoryError": "memory limit",
    os.strerror(errno.EAGAIN): "process limit",
    "can't start new thread": "process limit",
    os.strerror(errno.EFBIG): "file size limit",
    os.strerror(errno.ENOSPC): "disk limit",
    os.strerror(errno.EMFILE): "open files limit",
}


@dataclass(frozen=True)
class Limits:
    """What one action may use. The defaults fit an agent's tool call (a short Python script)."""

    wall_seconds: float = 10.0
    cpu_seconds: int = 10  # per process: SIGXCPU at this, SIGKILL a second later
    processes: int = 16  # processes and threads in the jail, the entry program included
    address_space: int = 256 * MiB  # per process, in bytes
    file_size: int = 32 * MiB  # the largest file a process may write, in bytes
    open_files: int = 256
    disk: int = 64 * MiB  # the work folder's tmpfs, in bytes
    files: int = 10_000  # entries the host keeps from the work folder
    output: int = 1 * MiB  # stdout and stderr the host keeps, in bytes

    def __post_init__(self):
        bad = [k for k, v in vars(self).items() if not v > 0]
        if bad:
            raise UserError(f"sandbox limits must be positive: {', '.join(bad)}")

    def rlimits(self) -> dict[str, int | list[int]]:
        return {
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_AS": self.address_space,
            "RLIMIT_FSIZE": self.file_size,
            "RLIMIT_CPU": [self.cpu_seconds, self.cpu_seconds + 1],
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }


@dataclass(frozen=True)
class ActionResult:
    """What one sandboxed command did: its exit code (128 + signal if a signal ended it, 124 if it
    timed out), its output (stdout, then stderr) and, when a guard stopped or refused it, why."""

    returncode: int
    output: str
    reason: str = ""

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
    if bwrap_version(path) < (0, 7):
        raise UserError(
            f"bwrap {'.'.join(map(str, bwrap_version(path)))} is too old: the sandbox needs {PACKAGE} 0.7 or later "
            "(--size, the bound on the work folder); agent actions never run unsandboxed"
        )
    return path


@functools.cache
def bwrap_version(bwrap: str) -> tuple[int, ...]:
    out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, env=BWRAP_ENV).stdout
    return tuple(int(n) for n in re.findall(r"\d+", out)[:3])


def python_runtime() -> tuple[str, list[str]]:
    """The interpreter actions run with and the host folders it needs, read-only: the system
    Python under ``/usr`` when there is one, else this interpreter's own prefix."""
    if Path("/usr/bin/python3").exists():
        return "/usr/bin/python3", ["/usr"]
    prefix = os.path.realpath(sys.base_prefix)
    return os.path.join(prefix, "bin", "python3"), [prefix, "/usr"]


@functools.cache
def user_namespaces(bwrap: str) -> bool:
    """Whether this host lets bwrap make an unprivileged user namespace (as nobody, when root)."""
    who = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    probe = [bwrap, "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--ro-bind", "/", "/", "true"]
    done = subprocess.run(probe, capture_output=True, env=BWRAP_ENV, cwd="/", timeout=10, **who)
    return done.returncode == 0


class Sandbox:
    """Runs commands in a bwrap jail whose only writable place is ``work`` (seen as ``/work``).

    ``binds`` shows more host paths, read-only: ``{host path: path in the jail}`` (a method's inputs,
    the Python packages it may import). A jail path is absolute and outside ``/work`` and the
    runtime's folders; a host path must be readable by the jail's user (nobody, when root starts it)."""

    def __init__(self, work: str | Path, limits: Limits = Limits(), binds: dict[str, str] | None = None):
        self.bwrap = require_bwrap()
        self.work = Path(work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.limits = limits
        self.binds = {str(Path(host).resolve()): inside for host, inside in (binds or {}).items()}
        for host, inside in self.binds.items():
            reserved = [WORK, "/proc", "/dev", *TOPS, "/usr"]
            if not inside.startswith("/") or inside == "/" or any(Path(inside).is_relative_to(r) for r in reserved):
                raise UserError(
                    f"sandbox bind {host} -> {inside}: the jail path must be absolute, outside {WORK} and the runtime"
                )
            if not Path(host).exists():
                raise UserError(f"sandbox bind {host}: no such file or folder")
        self.interpreter, self.ro = python_runtime()
        self.user_namespace = user_namespaces(self.bwrap)
        self.host_uid = NOBODY if self.user_namespace and os.geteuid() == 0 else None

    @property
    def visible(self) -> list[Path]:
        """The host folders the jail shows, read-only (the runtime): nothing else of the host."""
        return [Path(f) for f in dict.fromkeys(self.ro + list(TOPS)) if Path(f).is_dir() and not Path(f).is_symlink()]

    def argv(self, command: list[str], control: int = 3) -> list[str]:
        args = [self.bwrap, "--unshare-net", "--unshare-ipc", "--unshare-pid", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1", "--cap-drop", "ALL"]
        if self.user_namespace:
            args += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
            args += ["--disable-userns"] if bwrap_version(self.bwrap) >= (0, 8) else []  # no nested namespaces
        args += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]
        for folder in dict.fromkeys(self.ro):
            if Path(folder).exists():
                args += ["--ro-bind", folder, folder]
        for top in TOPS:  # merged-/usr systems: keep the links, else bind
            if Path(top).is_symlink():
                args += ["--symlink", os.readlink(top), top]
            elif Path(top).is_dir():
                args += ["--ro-bind", top, top]
        for host, inside in self.binds.items():
            args += ["--ro-bind", host, inside]
        args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
        args += ["--size", str(self.limits.disk), "--tmpfs", WORK, "--remount-ro", "/", "--chdir", WORK, "--"]
        entry = [self.interpreter, "-I", "-S", "-c", ENTRYPOINT, str(control), json.dumps(self.limits.rlimits())]
        return args + entry + command

    def run(self, command: list[str]) -> ActionResult:
        who = {"user": self.host_uid, "group": self.host_uid, "extra_groups": []} if self.host_uid is not None else {}
        read, write = os.pipe()
        with open(read, "rb") as control, tempfile.TemporaryFile() as staged:
            try:
                self.stage(staged)
                proc = subprocess.Popen(
                    self.argv(command, write), stdin=staged, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    pass_fds=(write,), env=BWRAP_ENV, cwd="/", **who,
                )  # fmt: skip
            finally:
                os.close(write)
            (back, out, err), stopped = collect(proc, (control, proc.stdout, proc.stderr), self.limits)
        output = (out + err).decode(errors="replace").strip()
        halted = 124 if stopped == "timed out" else 137 if stopped else proc.returncode or 1
        if not back.startswith(STARTED):
            if stopped:
                return ActionResult(halted, output, stopped)
            raise UserError(
                f"the sandbox could not start ({output.splitlines()[-1] if output else proc.returncode}); "
                "agent actions never run unsandboxed"
            )
        line, sep, archive = back[len(STARTED) :].partition(b"\n")
        if stopped or not sep:
            return ActionResult(halted, output, stopped or "stopped before the work folder was handed back")
        try:  # written in the jail, so untrusted
            status = json.loads(line)
            returncode, reasons = int(status["returncode"]), limit_reasons(status, output, self.limits)
        except (ValueError, KeyError, TypeError):
            return ActionResult(halted, output, "the jail's report was unreadable; work folder not kept")
        reasons += self.keep(archive)
        return ActionResult(returncode, output, "; ".join(dict.fromkeys(reasons)))

    def python(self, code: str, *args: str) -> ActionResult:
        """``python3 -I -S -c code args`` in the jail (isolated: no site packages, no user paths)."""
        return self.run([self.interpreter, "-I", "-S", "-c", code, *args])

    def stage(self, sink) -> None:
        """The host's work folder as a tar archive, for the jail's entry program to unpack in ``/work``."""
        entries = list(self.work.rglob("*"))
        size = sum(p.lstat().st_size for p in entries)
        if size > self.limits.disk or len(entries) > self.limits.files:
            raise UserError(
                f"work folder {self.work} ({size} bytes, {len(entries)} files) does not fit the sandbox's "
                f"disk limit ({self.limits.disk} bytes, {self.limits.files} files)"
            )
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for entry in sorted(self.work.iterdir()):
                tar.add(entry, arcname=entry.name)
        sink.seek(0)

    def keep(self, archive: bytes) -> list[str]:
        """Replace the host's work folder with the jail's, leaving out (and naming) each entry that is
        not safe to keep; past ``files`` entries, or if the archive is unreadable, keep nothing."""
        fresh = Path(tempfile.mkdtemp(dir=self.work.parent, prefix=f".{self.work.name}."))
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
                members = []
                for member in tar:
                    if len(members) == self.limits.files:
                        return [f"disk limit: more than {self.limits.files} files, work folder not kept"]
                    members.append(member)
                left_out = extract(tar, members, fresh)
            fresh.chmod(stat.S_IMODE(self.work.stat().st_mode))
            old = self.work.with_name(fresh.name + ".old")
            self.work.rename(old)
            fresh.rename(self.work)
            shutil.rmtree(old)
            return left_out
        except (tarfile.TarError, OSError) as e:
            return [f"work folder not kept: {e}"]
        finally:
            shutil.rmtree(fresh, ignore_errors=True)


def extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], folder: Path) -> list[str]:
    """Extract what is safe on the host, and name what is not: tarfile's ``data`` filter (no links
    out of the folder, no devices, no set-id bits) where this Python has it (3.11.4 on); before that,
    plain files and folders only."""
    left_out = []
    if hasattr(tarfile, "data_filter"):

        def data(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
            try:
                return tarfile.data_filter(member, path)
            except tarfile.FilterError as e:
                left_out.append(f"not kept: {member.name} ({type(e).__name__})")
                return None

        tar.extractall(folder, members=members, filter=data)
        return left_out
    plain = []
    for m in members:
        if (m.isreg() or m.isdir()) and not os.path.isabs(m.name) and ".." not in Path(m.name).parts:
            m.mode = (m.mode & 0o755) | (0o700 if m.isdir() else 0o600)
            m.uid, m.gid, m.uname, m.gname = os.geteuid(), os.getegid(), "", ""
            plain.append(m)
        else:
            left_out.append(f"not kept: {m.name} (not a plain file or folder)")
    tar.extractall(folder, members=plain)
    return left_out


def collect(proc: subprocess.Popen, pipes: tuple, limits: Limits) -> tuple[list[bytes], str]:
    """Read the control pipe, stdout and stderr until the jail closes them, within the wall time
    and the output and archive bounds; past one, kill the jail and say which."""
    archive_cap = limits.disk + 2048 * (limits.files + 1) + 64 * 1024  # data, with headers and padding per entry
    got = [bytearray() for _ in pipes]
    deadline = time.monotonic() + limits.wall_seconds
    stopped = ""
    with selectors.DefaultSelector() as selector:
        for i, pipe in enumerate(pipes):
            selector.register(pipe, selectors.EVENT_READ, i)
        while selector.get_map() and not stopped:
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = "timed out"
            for key, _ in selector.select(left) if left > 0 else []:
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                got[key.data] += chunk
                if len(got[1]) + len(got[2]) > limits.output:
                    stopped = "killed: output limit"
                elif len(got[0]) > archive_cap:
                    stopped = "disk limit: the work folder's archive is too large, not kept"
    if not stopped:  # the pipes closed; the jail may still be winding down, or holding on without them
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            stopped = "timed out"
    if stopped:
        end(proc)
    proc.wait()
    for pipe in pipes[1:]:
        pipe.close()
    return [bytes(g) for g in got], stopped


def end(proc: subprocess.Popen) -> None:
    """Kill bwrap and the jail's pid 1 and return once the jail is gone: the kernel kills every process
    of a PID namespace when its pid 1 dies, and that pid 1 exits only after they all have."""
    jail = [pid for pid in host_pids() if parent(pid) == proc.pid]
    for pid in [proc.pid, *jail]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    deadline = time.monotonic() + 5
    while any(parent(pid) is not None for pid in jail) and time.monotonic() < deadline:
        time.sleep(0.01)


def host_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def parent(pid: int) -> int | None:
    """The parent of a live process; None once it has exited (gone, or a zombie)."""
    try:
        state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError):
        return None
    return None if state in "ZX" else int(ppid)


def limit_reasons(status: dict, output: str, limits: Limits) -> list[str]:
    """The limits an action met, from how its command ended and what it reported."""
    reasons = []
    sig = status["signal"]
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and status["cpu_seconds"] >= limits.cpu_seconds):
        reasons.append("killed: cpu limit")
    elif sig == signal.SIGXFSZ:
        reasons.append("killed: file size limit")
    elif sig:
        reasons.append(f"killed: {signal.Signals(sig).name}")
    reasons += [limit for text, limit in REFUSALS.items() if text in output]
    if status["disk_full"]:
        reasons.append("disk limit")
    return reasons
