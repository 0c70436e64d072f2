"""Escape and exhaustion attempts against the sandbox, one action each, with the limits that must
stop them: ``test_sandbox.py`` runs every attempt as root, one test each, and runs this file as an
ordinary user (``python3 tests/sandbox_battery.py WORK PORT``), so both paths meet the same attempts.

An attempt is Python run in the jail; ``$canary``, ``$home`` and ``$port`` are the host places it
aims at (a folder next to the work folder, the host user's home folder, a listener on the host's
loopback), and ``$token``, on its first line, marks its processes for the host to look for
afterwards. Each is small enough that, if its guard were gone, the host would not be harmed: the
negative controls in ``test_sandbox.py`` remove the guard and show the same attempt then succeeds.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from string import Template

from autoalign.runtime.sandbox import ActionResult, Limits, MiB, Sandbox

SMALL = Limits(
    wall_seconds=5,
    cpu_seconds=1,
    processes=32,
    address_space=256 * MiB,
    file_size=1 * MiB,
    open_files=64,
    disk=4 * MiB,
    files=500,
    output=64 * 1024,
)


@dataclass(frozen=True)
class Attempt:
    code: str
    refused: str  # what the jail's answer shows: the error, or the limit's signal
    reason: str = ""  # what the ActionResult must name, when a limit stopped it
    limits: Limits = SMALL
    guard: dict | None = None  # limits without the guard: the same attempt then succeeds


ESCAPES = {
    "read /etc/passwd": Attempt("open('/etc/passwd').read()", "FileNotFoundError"),
    "list the home folder": Attempt("import os; os.listdir('$home')", "FileNotFoundError"),
    "read a host path": Attempt("open('$canary/secret.txt').read()", "FileNotFoundError"),
    "follow a symlink out": Attempt(
        "import os; os.symlink('$canary/secret.txt', 'link'); open('link').read()", "FileNotFoundError"
    ),
    "write to ..": Attempt("open('../escape.txt', 'w').write('x')", "Read-only file system"),
    "write /work/../": Attempt("open('/work/../escape.txt', 'w').write('x')", "Read-only file system"),
    "write a host path": Attempt("open('$canary/new.txt', 'w').write('x')", "FileNotFoundError"),
    "write /tmp": Attempt("open('/tmp/escape.txt', 'w').write('x')", "FileNotFoundError"),
    "write /usr": Attempt("open('/usr/escape.txt', 'w').write('x')", "Read-only file system"),
    "write /dev": Attempt("open('/dev/escape.txt', 'w').write('x')", "Read-only file system"),
    "write /dev/shm": Attempt("open('/dev/shm/escape.txt', 'w').write('x')", "Read-only file system"),
    "remount / read-write": Attempt(  # what a root process with CAP_SYS_ADMIN could do to a read-only mount
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "assert libc.mount(None, b'/', None, 32, None) == 0, os.strerror(ctypes.get_errno())\n",  # 32: MS_REMOUNT
        "Operation not permitted",
    ),
    "find a secret in the environment": Attempt(  # the test sets AUTOALIGN_TEST_SECRET in the host's environment
        "import os\n"
        "seen = [str(os.environ)]\n"
        "for p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        seen.append(open('/proc/%s/environ' % p, 'rb').read().decode())\n"
        "    except OSError:\n"
        "        pass\n"
        "if 'AUTOALIGN_TEST_SECRET' not in ''.join(seen):\n"
        "    raise LookupError('no secret in reach')\n",
        "LookupError",
    ),
    "ptrace another process in the jail": Attempt(  # one outside the limits would be a way around them
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n"
        "errors = []\n"
        "for pid in sorted({1, os.getppid()}):\n"
        "    if libc.ptrace(0x4206, pid, None, None) == 0:  # PTRACE_SEIZE: attach without stopping it\n"
        "        print('attached to', pid)\n"
        "        break\n"
        "    errors.append(os.strerror(ctypes.get_errno()))\n"
        "else:\n"
        "    raise PermissionError(errors)\n",
        "Operation not permitted",
    ),
    "connect to host loopback": Attempt(  # reaches the jail's own loopback, where nothing listens
        "import socket; socket.create_connection(('127.0.0.1', $port), timeout=2)", "Connection refused"
    ),
}

EXHAUSTIONS = {
    "fork bomb": Attempt(
        "import os, time\nfor n in range(200):\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n",
        "BlockingIOError",
        "process limit",
        guard={"processes": 1024},
    ),
    "allocate 1 GiB": Attempt("bytearray(1 << 30)", "MemoryError", "memory limit"),
    "allocate 160 MiB": Attempt(
        "bytearray(160 << 20)",
        "MemoryError",
        "memory limit",
        replace(SMALL, address_space=128 * MiB),
        guard={"address_space": 512 * MiB},
    ),
    "write a 2 MiB file": Attempt(
        "open('big.bin', 'wb').write(bytes(2 << 20))", "File too large", "file size limit", guard={"file_size": 4 * MiB}
    ),
    "fill the disk with small files": Attempt(
        "for i in range(400):\n    with open('f%d' % i, 'wb') as f:\n        f.write(bytes(16384))\n",
        "No space left on device",
        "disk limit",
        guard={"disk": 16 * MiB},
    ),
    "make more files than are kept": Attempt(
        "for i in range(600):\n    open('e%d' % i, 'wb').close()\n",
        "",
        "disk limit: more than 500 files",
        guard={"files": 1000},
    ),
    "spin the CPU": Attempt(
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2:\n    pass\n",
        "",
        "killed: cpu limit",
        guard={"cpu_seconds": 5},
    ),
    "sleep past the wall time": Attempt(
        "import time; time.sleep(0.6)", "", "timed out", replace(SMALL, wall_seconds=0.3), guard={"wall_seconds": 5}
    ),
    "flood the output": Attempt(
        "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 1023 + chr(10))\n",
        "",
        "killed: output limit",
        guard={"output": 1 * MiB},
    ),
    "open 100 files": Attempt(
        "fs = [open('/dev/null') for _ in range(100)]",
        "Too many open files",
        "open files limit",
        guard={"open_files": 256},
    ),
}


def run(work: Path, attempt: Attempt, guarded: bool = True, **places: str) -> ActionResult:
    limits = attempt.limits if guarded else replace(attempt.limits, **attempt.guard)
    return Sandbox(work, limits).python(Template("# $token\n" + attempt.code).substitute(places))


def held(attempt: Attempt, result: ActionResult) -> bool:
    """The attempt failed, or a limit stopped it (a refusal to keep the work folder stops an action
    whose command exited 0), and the result says so."""
    stopped = not result.ok or bool(attempt.reason)
    return stopped and attempt.refused in result.output and attempt.reason in result.reason


# Run as an ordinary user too: every escape, the fork bomb (whose limit counts per user: the case that
# differs most between root and an ordinary user) and one attempt each on memory, file size and disk.
PER_USER = ("fork bomb", "allocate 1 GiB", "write a 2 MiB file", "fill the disk with small files")
AS_ORDINARY_USER = {**ESCAPES, **{name: EXHAUSTIONS[name] for name in PER_USER}}


def main(work: str, port: str) -> None:
    """The battery as the user running this; one JSON line: attempt -> [held, return code, reason, output]."""
    places = {"canary": str(Path(work).parent / "canary"), "home": str(Path.home()), "port": port, "token": "x"}
    found = {}
    for name, attempt in AS_ORDINARY_USER.items():
        r = run(Path(work) / re.sub(r"\W+", "_", name), attempt, **places)
        found[name] = [held(attempt, r), r.returncode, r.reason, r.output[-200:]]
    status = Sandbox(Path(work) / "status").python("print(open('/proc/self/status').read())").output
    found["status"] = status
    print(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])
